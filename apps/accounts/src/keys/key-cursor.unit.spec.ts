import fc from 'fast-check';
import { decodeKeyCursor, encodeKeyCursor } from './key-cursor.js';

describe('key-cursor', () => {
  describe('encodeKeyCursor / decodeKeyCursor', () => {
    it('round-trips any millisecond time and id', () => {
      fc.assert(fc.property(fc.date({ min: new Date(0), max: new Date('2200-01-01'), noInvalidDate: true }), fc.uuid(), (createdAt, id) => {
        const decoded = decodeKeyCursor(encodeKeyCursor({ createdAt, id }));
        expect(decoded.createdAt.getTime()).toBe(createdAt.getTime());
        expect(decoded.id).toBe(id);
      }));
    });

    it.each(['', 'not a cursor', Buffer.from('v1:abc:x').toString('base64url'), Buffer.from("v1:1:'; DROP TABLE x; --").toString('base64url'), 'A'.repeat(300)])(
      'refuses a cursor it did not issue (%s) with validation-failed',
      (value) => {
        expect(() => decodeKeyCursor(value)).toThrow(expect.objectContaining({ code: 'validation-failed' }));
      },
    );
  });
});
