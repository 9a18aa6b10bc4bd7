/**
 * OPTIONS (RFC 9110 §9.3.7, RFC 4918 §10.1), answered by davgate itself at any path with no upstream call.
 * Class 2 is advertised because LOCK/UNLOCK are served (passed to the file's upstream until davgate holds
 * locks itself).
 */
import type { MethodHandler } from './context.js';

/** The methods davgate serves, for `Allow`. */
export const ALLOWED_METHODS = [
  'OPTIONS',
  'GET',
  'HEAD',
  'PUT',
  'DELETE',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
] as const;

/** OPTIONS handler. */
export const handleOptions: MethodHandler = async (ctx) => {
  ctx.reply
    .code(200)
    .header('dav', '1, 2')
    .header('allow', ALLOWED_METHODS.join(', '))
    .header('ms-author-via', 'DAV')
    .header('content-length', '0')
    .send();
};
