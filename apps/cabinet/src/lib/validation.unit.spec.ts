import { checkNewPassword, checkRnokpp, firstInvalidField, newPasswordMessage, passwordLength, validateGenerationForm, type GenerationFormValues } from './validation.js';

const valid: GenerationFormValues = {
  cloudKeyPassword: 'Demo-Cloud-Key-1',
  tokenId: 'demo-agent:0001',
  currentTokenPassword: '',
  newKeyPassword: 'Token-Pass-1',
  newKeyPasswordConfirmation: 'Token-Pass-1',
};

describe('validation', () => {
  describe('checkNewPassword', () => {
    it('accepts 6 to 32 characters', () => {
      expect(checkNewPassword('123456')).toBeNull();
      expect(checkNewPassword('x'.repeat(32))).toBeNull();
    });

    it('refuses an empty, a 5-character and a 33-character password', () => {
      expect(checkNewPassword('')).toBe('empty');
      expect(checkNewPassword('12345')).toBe('too-short');
      expect(checkNewPassword('x'.repeat(33))).toBe('too-long');
    });

    it('counts characters as the agent does (code points), so Cyrillic and emoji count once each', () => {
      expect(passwordLength('пароль')).toBe(6);
      expect(checkNewPassword('пароль')).toBeNull();
      expect(passwordLength('🔑🔑🔑')).toBe(3);
      expect(checkNewPassword('🔑🔑🔑🔑🔑')).toBe('too-short');
      expect(checkNewPassword('🔑'.repeat(32))).toBeNull();
    });

    it('refuses control characters', () => {
      expect(checkNewPassword('secret\tpass')).toBe('control-characters');
      expect(checkNewPassword('secret\npass')).toBe('control-characters');
    });

    it('explains each problem in Ukrainian with the policy figures', () => {
      expect(newPasswordMessage('too-short')).toBe('Пароль закороткий: потрібно щонайменше 6 символів.');
      expect(newPasswordMessage('too-long')).toContain('32');
    });
  });

  describe('validateGenerationForm', () => {
    it('finds nothing wrong with a complete form', () => {
      expect(validateGenerationForm(valid, false)).toEqual({});
    });

    it('says when the confirmation does not match', () => {
      const errors = validateGenerationForm({ ...valid, newKeyPasswordConfirmation: 'Token-Pass-2' }, false);
      expect(errors).toEqual({ newKeyPasswordConfirmation: 'Паролі не збігаються: введіть однаковий пароль в обидва поля.' });
    });

    it('asks for the current token password only when the token has one', () => {
      expect(validateGenerationForm(valid, false).currentTokenPassword).toBeUndefined();
      expect(validateGenerationForm(valid, true).currentTokenPassword).toBe('Введіть поточний пароль токена.');
      expect(validateGenerationForm({ ...valid, currentTokenPassword: '654321' }, true)).toEqual({});
    });

    it('requires the cloud key password and a token', () => {
      const errors = validateGenerationForm({ ...valid, cloudKeyPassword: '', tokenId: null }, false);
      expect(Object.keys(errors)).toEqual(['cloudKeyPassword', 'tokenId']);
    });

    it('reports a policy breach and a mismatch together, and points at the first field in form order', () => {
      const errors = validateGenerationForm({ ...valid, newKeyPassword: '123', newKeyPasswordConfirmation: '1234' }, false);
      expect(errors.newKeyPassword).toContain('закороткий');
      expect(errors.newKeyPasswordConfirmation).toContain('не збігаються');
      expect(firstInvalidField(errors)).toBe('newKeyPassword');
      expect(firstInvalidField({})).toBeNull();
    });
  });

  describe('checkRnokpp', () => {
    it('accepts ten digits and refuses anything else', () => {
      expect(checkRnokpp('1111111111')).toBeNull();
      expect(checkRnokpp(' 1111111111 ')).toBeNull();
      expect(checkRnokpp('')).toBe('Введіть РНОКПП.');
      expect(checkRnokpp('11111')).toBe('РНОКПП складається з 10 цифр.');
      expect(checkRnokpp('11111a1111')).toBe('РНОКПП складається з 10 цифр.');
    });
  });
});
