import type { KeyAccount } from '../api/types.js';
import { accessBlocked, cappedNote, compensationNote, failureMessage, kindLabel, MENU, organizationText, problemMessage, unavailableReason } from './texts.js';

const cloudKey: KeyAccount = {
  id: '7f7c0e4e-8f3c-4a0b-9d56-3b8a1c2d4e5f', kind: 'cloud', temporary: false, baseKeyId: null,
  owner: { organization: null, edrpou: null, fullName: 'Тест Тест Тест', rnokpp: '1111111111', position: null },
  status: 'active', createdAt: '2021-08-25T13:21:00Z',
  certificate: { serialNumber: '01', subject: 'CN=Тест', issuer: 'CN=CA', notBefore: '2021-08-25T13:21:00Z', notAfter: '2022-08-25T13:21:00Z' },
  token: null, actions: ['form-temporary-hardware-key'],
};

describe('texts', () => {
  describe('problemMessage', () => {
    it('says how many attempts are left after a wrong password, with the right plural', () => {
      expect(problemMessage({ code: 'wrong-password', status: 422, remainingAttempts: 4 })).toContain('Залишилось 4 спроби');
      expect(problemMessage({ code: 'wrong-password', status: 422, remainingAttempts: 1 })).toContain('Залишилось 1 спроба');
      expect(problemMessage({ code: 'wrong-password', status: 422, remainingAttempts: 5 })).toContain('Залишилось 5 спроб');
      expect(problemMessage({ code: 'wrong-password', status: 422, remainingAttempts: 11 })).toContain('Залишилось 11 спроб');
      expect(problemMessage({ code: 'wrong-password', status: 422, remainingAttempts: 22 })).toContain('Залишилось 22 спроби');
    });

    it('says the key is now blocked when no attempts are left', () => {
      expect(problemMessage({ code: 'wrong-password', status: 422, remainingAttempts: 0 })).toContain('Це була остання спроба: доступ до ключа заблоковано');
    });

    it('explains a blocked key, a gone token and an offline network in plain words', () => {
      expect(problemMessage({ code: 'key-access-blocked', status: 423 })).toMatch(/^Доступ до ключа заблоковано/);
      expect(problemMessage({ code: 'token-unavailable', status: 409 })).toContain('агент підпису');
      expect(problemMessage({ code: 'network', status: 0 })).toContain('Немає зв’язку');
    });

    it('never shows an unknown code or a server detail', () => {
      const text = problemMessage({ code: 'internal', status: 500 });
      expect(text).toContain('Внутрішня помилка');
      expect(text).not.toContain('internal');
    });
  });

  describe('failureMessage', () => {
    it('has a message for every failure code of the saga', () => {
      const codes = ['agent-timeout', 'token-absent', 'token-pin-locked', 'wrong-token-password', 'pin-policy', 'algorithm-unsupported', 'token-error', 'ca-rejected', 'certificate-timeout', 'install-failed', 'base-key-ineligible'];
      const generic = failureMessage('something-new');
      for (const code of codes) expect(failureMessage(code)).not.toBe(generic);
    });
  });

  describe('key labels', () => {
    it('shows a person without organisation as «Фізична особа»', () => {
      expect(organizationText(cloudKey.owner)).toBe('Фізична особа');
      expect(organizationText({ ...cloudKey.owner, organization: 'ТОВ «Приклад»' })).toBe('ТОВ «Приклад»');
    });

    it('names cloud and temporary hardware keys', () => {
      expect(kindLabel(cloudKey)).toBe('Хмарний ключ');
      expect(kindLabel({ kind: 'hardware', temporary: true })).toBe('Тимчасовий апаратний ключ');
    });

    it('lists the seed menu with the hardware key item last', () => {
      expect(MENU).toHaveLength(10);
      expect(MENU.at(-1)).toEqual({ action: 'form-temporary-hardware-key', label: 'Сформувати тимчасовий апаратний ключ' });
    });

    it('gives a reason for a disabled item that matches the key state', () => {
      expect(unavailableReason({ ...cloudKey, status: 'expired' }, 'form-temporary-hardware-key')).toBe('строк дії сертифіката минув');
      expect(unavailableReason({ ...cloudKey, kind: 'hardware', temporary: true }, 'form-temporary-hardware-key')).toBe('лише для хмарного ключа');
      expect(unavailableReason({ ...cloudKey, kind: 'hardware', temporary: true }, 'extend-certificate')).toBe('не застосовується до тимчасового ключа');
      const locked = { ...cloudKey, actions: ['view-application', 'activate-access'] as KeyAccount['actions'] };
      expect(accessBlocked(locked)).toBe(true);
      expect(accessBlocked(cloudKey)).toBe(false);
      expect(unavailableReason(locked, 'form-temporary-hardware-key')).toBe('доступ до особистого ключа заблоковано');
      expect(unavailableReason({ ...cloudKey, status: 'blocked' }, 'form-temporary-hardware-key')).toBe('ключ заблоковано');
    });
  });

  describe('cappedNote', () => {
    it('says nothing when the period was not cut short, and why it was otherwise', () => {
      expect(cappedNote({ capped: false, cappedBy: null })).toBeNull();
      expect(cappedNote({ capped: true, cappedBy: 'base-certificate' })).toContain('основного сертифіката');
      expect(cappedNote({ capped: true, cappedBy: 'issuer' })).toContain('центру сертифікації');
    });
  });

  describe('compensationNote', () => {
    it('says only what was really undone', () => {
      expect(compensationNote(['requested', 'key-generating', 'compensating', 'failed'])).toContain('без змін');
      expect(compensationNote(['requested', 'key-generating', 'key-generated', 'certificate-issuing', 'compensating', 'failed']))
        .toBe('Виконані кроки скасовано: згенерований ключ видалено з токена.');
      expect(compensationNote(['requested', 'key-generating', 'key-generated', 'certificate-issuing', 'certificate-issued', 'installing', 'compensating', 'failed']))
        .toBe('Виконані кроки скасовано: згенерований ключ видалено з токена, виданий сертифікат відкликано.');
    });
  });
});
