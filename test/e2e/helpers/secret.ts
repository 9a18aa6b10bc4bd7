/**
 * Random secrets for the end-to-end rigs (upstream and gateway passwords).
 *
 * Passwords travel as command-line arguments (`litmus URL USER PASSWORD`, rclone flags), so one must never start
 * with `-`: base64url draws `-` as its first character once in 64, and litmus then read the password as an
 * option (`invalid option -- 'T'`) and failed the whole group.
 */
import { randomBytes } from 'node:crypto';

/**
 * A random password of 16 base64url characters after a leading letter: safe as a command-line argument.
 * @param bytes - random bytes drawn (default 12, 96 bits)
 */
export function cliSafePassword(bytes = 12): string {
  return 'p' + randomBytes(bytes).toString('base64url');
}
