/** Request transfer codings davgate can read (src/proxy/transfer-coding.ts), RFC 9112 §6.1 and §7. */
import t from 'tap';
import { unsupportedTransferCodings } from '../../src/proxy/transfer-coding.js';

t.test('only chunked is understood', async (t) => {
  t.same(unsupportedTransferCodings(undefined), []);
  t.same(unsupportedTransferCodings('chunked'), []);
  t.same(unsupportedTransferCodings(' Chunked '), [], 'names are case-insensitive');
  t.same(unsupportedTransferCodings('gzip, chunked'), ['gzip']);
  t.same(unsupportedTransferCodings('GZIP,deflate ; x=1 , chunked'), ['gzip', 'deflate'], 'parameters are not part of the name');
  t.same(unsupportedTransferCodings(['gzip', 'chunked']), ['gzip'], 'repeated header lines');
  t.same(unsupportedTransferCodings('identity, chunked'), ['identity'], 'identity is no transfer coding any more (RFC 9112)');
  t.same(unsupportedTransferCodings(', chunked,'), [], 'empty list elements are skipped');
});
