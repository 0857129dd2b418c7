// The cabinet page in a real browser (Debian's Chromium via playwright-core) against the local
// stack that this file starts itself: the seed's flow by clicks and typing, the refusals, and
// the screens a person sees, saved as screenshots in apps/cabinet/test-artifacts/.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { Page, Request } from 'playwright-core';
import { ensureChromium, launchBrowser, type Browser } from './support/browser.js';
import { TestApi, kyiv, until } from './support/api.js';
import { artifactsDir } from './support/paths.js';
import { BLOCK_KEY, operatorRpc, UNBLOCK_KEY_ACCESS } from './support/operator.js';
import { buildCabinetPage, startCabinetStack } from './support/stack-env.js';

interface Key { id: string; kind: string; temporary: boolean; baseKeyId: string | null; status: string; certificate: { notBefore: string; notAfter: string } | null; actions: string[] }
interface Token { tokenId: string; display: string; userPinInitialized: boolean }

// The page itself must build: that is this project's own failure, never a reason to skip.
const pageBuild = buildCabinetPage();
if (!pageBuild.ok) {
  describe('cabinet page build', () => {
    it('builds with tsc and vite (nx build cabinet)', () => {
      throw new Error(`nx build cabinet failed:\n${pageBuild.output}`);
    });
  });
}

// The stack starts before the tests are defined. A stack that cannot start fails the suite with the
// reason and the failing service's last log lines, as a page that does not build does: never a skip.
const started = pageBuild.ok ? await startCabinetStack() : null;
if (started && !started.ok) {
  describe('cabinet local stack', () => {
    it('starts for the browser tests (tools/stack/stack.mjs)', () => {
      throw new Error(`the local stack could not start: ${started.reason}\n` +
        `${started.log.slice(-30).map((l) => `  | ${l}`).join('\n')}\n` +
        '  The browser tests need every service built and working, Postgres and nats-server (see tools/stack/stack.mjs).');
    });
  });
}

if (started?.ok) describe('cabinet page (browser, local stack)', () => {
  jest.setTimeout(180_000);
  const env = started.env;
  const NEW_PASSWORD = 'Token-Pass-1';
  let browser: Browser;
  let page: Page;
  let api: TestApi;
  let shotNo = 0;
  const posts: Request[] = [];

  const shot = async (name: string) => {
    shotNo += 1;
    await page.screenshot({ path: join(artifactsDir, `${String(shotNo).padStart(2, '0')}-${name}.png`) });
  };
  const insideOpenDialog = () => page.evaluate(() => !!document.querySelector('dialog[open]')?.contains(document.activeElement));
  const focusedText = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.innerText?.trim() ?? '');
  const validityDialog = () => page.getByRole('dialog', { name: 'Строк дії апаратного ключа' });
  const generateDialog = () => page.getByRole('dialog', { name: 'Генерація апаратного ключа' });
  const cloudMenuButton = () => page.getByRole('button', { name: /^Дії з ключем: Хмарний ключ/ });

  /** A test that failed half-way must not leave its dialog over the page for the next one. */
  const noDialogLeft = async () => {
    if ((await page.locator('dialog[open]').count()) === 0) return;
    await page.reload();
    await page.locator('tbody tr[data-key-id]').first().waitFor();
  };
  /** Menu → «Сформувати тимчасовий апаратний ключ» → option → «Згенерувати»: the generation dialog. */
  const openGenerateDialog = async (option = 'До кінця дії основного сертифікату') => {
    await noDialogLeft();
    await cloudMenuButton().click();
    await page.getByRole('menuitem', { name: /Сформувати тимчасовий апаратний ключ/ }).click();
    await validityDialog().getByRole('radio', { name: new RegExp(option) }).check();
    await expectText(validityDialog(), /Сертифікат діятиме з \d/);
    await validityDialog().getByRole('button', { name: 'Згенерувати' }).click();
    await generateDialog().waitFor();
    return generateDialog();
  };
  const fillForm = async (values: { cloud: string; next: string; confirm: string }) => {
    const d = generateDialog();
    await d.getByLabel('Пароль до поточного ключа у депозитарії', { exact: true }).fill(values.cloud);
    await d.getByLabel('Пароль до нового апаратного ключа', { exact: true }).fill(values.next);
    await d.getByLabel('Підтвердження паролю до нового апаратного ключа', { exact: true }).fill(values.confirm);
  };
  /** Records every distinct set of step states the dialog shows from now on. */
  const recordSteps = () => page.evaluate(() => {
    const w = window as unknown as { __steps: string[] };
    w.__steps = [];
    new MutationObserver(() => {
      const now = Array.from(document.querySelectorAll('dialog[open] li[data-state]'), (e) => e.getAttribute('data-state')).join(',');
      if (now && w.__steps.at(-1) !== now) w.__steps.push(now);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
  const recordedSteps = () => page.evaluate(() => (window as unknown as { __steps: string[] }).__steps);
  const expectText = async (locator: ReturnType<Page['locator']>, pattern: RegExp, timeout = 15_000) => {
    await until(`text ${pattern}`, async () => pattern.test(await locator.innerText()), timeout, 100);
  };

  beforeAll(async () => {
    await ensureChromium();
    await rm(artifactsDir, { recursive: true, force: true });
    await mkdir(artifactsDir, { recursive: true });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/temporary-hardware-keys')) posts.push(r); });
    api = new TestApi(env.gatewayUrl, env.demoUser.rnokpp);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await env.close();
  }, 120_000);

  describe('login and the key list', () => {
    it('logs the demo user in and shows the seed table in Kyiv time', async () => {
      await page.goto(`${env.gatewayUrl}/`);
      await page.getByRole('heading', { name: 'Вхід до кабінету' }).waitFor();
      await shot('login');
      await page.getByLabel('РНОКПП').fill(env.demoUser.rnokpp);
      await page.getByRole('button', { name: 'Увійти' }).click();
      await page.locator('tbody tr[data-key-id]').first().waitFor();

      expect(await page.getByRole('columnheader').allInnerTexts()).toEqual([
        'Організація (Фізична особа) / ЄДРПОУ', 'ПІБ / РНОКПП / Посада', 'Статус', 'Дата створення', 'Термін дії сертифіката', 'Дії',
      ]);
      const [cloud] = (await api.call<{ items: Key[] }>('/v1/keys?limit=50')).items;
      const row = page.locator(`tr[data-key-id="${cloud!.id}"]`);
      const cells = await row.getByRole('cell').allInnerTexts();
      expect(cells[0]).toContain('Фізична особа');
      expect(cells[1]).toContain(env.demoUser.fullName);
      expect(cells[1]).toContain(env.demoUser.rnokpp);
      expect(await row.getByTestId('status-badge').innerText()).toBe('Активний');
      expect(cells[2]).toContain('Хмарний ключ');
      expect(cells[3]).toBe(kyiv((cloud as unknown as { createdAt: string }).createdAt));
      expect((await row.getByTestId('validity').innerText()).replace(/\s+/g, ' ')).toBe(`з ${kyiv(cloud!.certificate!.notBefore)} по ${kyiv(cloud!.certificate!.notAfter)}`);
      await expect(page.getByLabel('На сторінці:').inputValue()).resolves.toBe('10');
      await shot('keys');
    });

    it('offers the seed menu by keyboard, enabled from the key actions and visibly disabled otherwise', async () => {
      const [cloud] = (await api.call<{ items: Key[] }>('/v1/keys?limit=50')).items;
      const button = cloudMenuButton();
      await button.focus();
      await page.keyboard.press('Enter');
      const items = page.getByRole('menuitem');
      await items.first().waitFor();
      expect(await button.getAttribute('aria-expanded')).toBe('true');
      const labels = (await items.allInnerTexts()).map((t) => t.split('\n')[0]!.trim());
      expect(labels).toEqual([
        'Переглянути заявку', 'Завантажити сертифікати', 'Перевірити статус сертифіката', 'Продовжити строк дії сертифіката',
        'Активувати доступ до особистого ключа', 'Заблокувати доступ до особистого ключа', 'Змінити пароль до особистого ключа',
        'Згенерувати токен доступу', 'Сформувати тимчасовий файловий ключ', 'Сформувати тимчасовий апаратний ключ',
      ]);
      for (const item of await items.all()) {
        const action = (await item.getAttribute('data-action'))!;
        expect([action, await item.getAttribute('aria-disabled')]).toEqual([action, cloud!.actions.includes(action) ? null : 'true']);
      }
      expect(await focusedText()).toBe('Переглянути заявку');
      await shot('key-menu');
      await page.keyboard.press('End');
      expect(await focusedText()).toBe('Сформувати тимчасовий апаратний ключ');
      await page.keyboard.press('Escape');
      await until('menu closed', async () => (await page.getByRole('menu').count()) === 0);
      expect(await button.evaluate((el) => el === document.activeElement)).toBe(true);
    });
  });

  describe('«Строк дії апаратного ключа»', () => {
    it('shows the four options with the preview dates, keeps focus inside and closes with Escape', async () => {
      const button = cloudMenuButton();
      await page.keyboard.press('ArrowUp');
      expect(await focusedText()).toBe('Сформувати тимчасовий апаратний ключ');
      await page.keyboard.press('Enter');
      const dialog = validityDialog();
      await dialog.waitFor();
      expect(await dialog.getAttribute('aria-modal')).toBe('true');
      const [cloud] = (await api.call<{ items: Key[] }>('/v1/keys?limit=50')).items;
      const base = await api.call<{ notBefore: string; notAfter: string; capped: boolean }>(`/v1/keys/${cloud!.id}/temporary-hardware-keys/preview?validity=base`);
      await expectText(dialog.getByRole('radio', { name: /До кінця дії основного сертифікату/ }).locator('xpath=..'), new RegExp(`по ${kyiv(base.notAfter)}`));
      for (const option of ['1 доба', '1 тиждень', '1 місяць', 'До кінця дії основного сертифікату']) {
        await expectText(dialog.getByRole('radio', { name: new RegExp(option) }).locator('xpath=..'), /з \d\d\.\d\d\.\d{4} \d\d:\d\d по \d\d\.\d\d\.\d{4} \d\d:\d\d/);
      }
      expect(await dialog.getByText(/Строк скорочено/).count()).toBe(0);
      await shot('validity');
      for (let i = 0; i < 8; i++) {
        await page.keyboard.press('Tab');
        expect(await insideOpenDialog()).toBe(true);
      }
      await page.keyboard.press('Escape');
      await until('dialog closed', async () => (await page.locator('dialog[open]').count()) === 0);
      expect(await button.evaluate((el) => el === document.activeElement)).toBe(true);
    });
  });

  describe('the generation dialog', () => {
    it('fills the token from the agent and asks no current token password while the token has none', async () => {
      const tokens = (await api.call<{ items: Token[] }>('/v1/tokens')).items;
      expect(tokens).toHaveLength(1);
      expect(tokens[0]!.userPinInitialized).toBe(false);
      // By keyboard: menu button → last item → Enter; arrows through the options; Enter.
      await cloudMenuButton().focus();
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('Enter');
      await validityDialog().waitFor();
      expect(await validityDialog().getByRole('radio', { name: /1 доба/ }).evaluate((el) => el === document.activeElement)).toBe(true);
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
      expect(await validityDialog().getByRole('radio', { name: /До кінця дії основного сертифікату/ }).isChecked()).toBe(true);
      await expectText(validityDialog(), /Сертифікат діятиме з \d/);
      await page.keyboard.press('Enter');
      const dialog = generateDialog();
      await dialog.waitFor();
      expect(await dialog.getAttribute('aria-modal')).toBe('true');
      await expect(dialog.getByLabel('Токен', { exact: true }).inputValue()).resolves.toBe(tokens[0]!.display);
      expect(await dialog.getByLabel('Поточний пароль токена').count()).toBe(0);
      expect(await dialog.getByLabel('Пароль до поточного ключа у депозитарії').evaluate((el) => el === document.activeElement)).toBe(true);
      await shot('generate-form');
    });

    it('refuses mismatched confirmations and a short password before anything is sent', async () => {
      const dialog = generateDialog();
      await fillForm({ cloud: env.demoUser.cloudKeyPassword, next: NEW_PASSWORD, confirm: 'Token-Pass-2' });
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      const confirmation = dialog.getByLabel('Підтвердження паролю до нового апаратного ключа', { exact: true });
      await expectText(dialog, /Паролі не збігаються/);
      expect(await confirmation.getAttribute('aria-invalid')).toBe('true');
      await until('the focus on the confirmation', () => confirmation.evaluate((el) => el === document.activeElement), 5_000, 50);
      const described = await confirmation.getAttribute('aria-describedby');
      expect(await page.locator(`[id="${described}"]`).innerText()).toContain('Паролі не збігаються');
      await shot('mismatch');

      await fillForm({ cloud: env.demoUser.cloudKeyPassword, next: '12345', confirm: '12345' });
      await page.keyboard.press('Enter');
      await expectText(dialog, /Пароль закороткий: потрібно щонайменше 6 символів/);
      // The message shows first, the focus moves right after it (once seen failing under a full test run's load).
      const field = dialog.getByLabel('Пароль до нового апаратного ключа', { exact: true });
      await until('the focus on the new password', () => field.evaluate((el) => el === document.activeElement), 5_000, 50);
      await shot('short-password');
      expect(posts).toHaveLength(0);
    });

    it('explains a wrong cloud key password with the attempts left', async () => {
      const dialog = generateDialog();
      await fillForm({ cloud: 'Not-The-Password-1', next: NEW_PASSWORD, confirm: NEW_PASSWORD });
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog, /Невірний пароль до поточного ключа у депозитарії\. Залишилось 4 спроби/, 30_000);
      const field = dialog.getByLabel('Пароль до поточного ключа у депозитарії', { exact: true });
      expect(await field.inputValue()).toBe('');
      expect(await field.getAttribute('aria-invalid')).toBe('true');
      expect(await field.evaluate((el) => el === document.activeElement)).toBe(true);
      expect(await dialog.getByTestId('live-region').innerText()).toContain('Залишилось 4 спроби');
      expect(posts).toHaveLength(1);
      await shot('wrong-password');
    });

    it('forms the temporary hardware key once though its first answer is lost, shows the steps, and the new row appears in the list', async () => {
      const dialog = generateDialog();
      const [cloud] = (await api.call<{ items: Key[] }>('/v1/keys?limit=50')).items;
      const cloudField = dialog.getByLabel('Пароль до поточного ключа у депозитарії', { exact: true });
      await cloudField.fill(env.demoUser.cloudKeyPassword);

      // The first 202 is lost on its way back (the server did accept it): pressing «Згенерувати» again
      // must repeat the same request (same Idempotency-Key, same body and JWEs), not start a second one.
      const formPath = /\/v1\/keys\/[^/]+\/temporary-hardware-keys$/;
      let lostAnswer: { requestId: string } | null = null;
      await page.route(formPath, async (route) => {
        const response = await route.fetch();
        lostAnswer = (await response.json()) as { requestId: string };
        await route.abort('failed');
      }, { times: 1 });
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog.getByRole('alert'), /Немає зв’язку з сервером/, 30_000);
      await page.unroute(formPath);
      expect(lostAnswer).not.toBeNull();
      expect(await cloudField.inputValue()).toBe(env.demoUser.cloudKeyPassword);

      await recordSteps();
      const retried = page.waitForResponse((r) => r.request().method() === 'POST' && formPath.test(new URL(r.url()).pathname));
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      expect((await retried).status()).toBe(202);
      expect(((await (await retried).json()) as { requestId: string }).requestId).toBe(lostAnswer!.requestId);
      expect(posts).toHaveLength(3);
      const [lost, retry] = posts.slice(-2);
      expect(retry!.headers()['idempotency-key']).toBe(lost!.headers()['idempotency-key']);
      expect(retry!.postData()).toBe(lost!.postData());
      await dialog.getByRole('list', { name: 'Кроки формування ключа' }).waitFor({ timeout: 30_000 });
      await shot('progress');
      await expectText(dialog, /Тимчасовий апаратний ключ сформовано\./, 120_000);
      expect(await dialog.locator('li[data-state]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['done', 'done', 'done', 'done']);
      expect(await dialog.getByTestId('live-region').innerText()).toContain('Тимчасовий апаратний ключ сформовано');
      const seen = await recordedSteps();
      expect(seen[0]).toBe('active,pending,pending,pending');
      expect(seen.at(-1)).toBe('done,done,done,done');
      await shot('completed');

      // What left the page: the new password only as a compact JWE.
      const body = JSON.parse(posts.at(-1)!.postData()!) as Record<string, string>;
      expect(body['newKeyPassword']!.split('.')).toHaveLength(5);
      expect(JSON.stringify(body)).not.toContain(NEW_PASSWORD);
      expect(body['currentTokenPassword']).toBeUndefined();
      expect(body['validity']).toBe('base');

      await dialog.getByRole('button', { name: 'Готово' }).click();
      await until('dialog closed', async () => (await page.locator('dialog[open]').count()) === 0);
      const keys = (await api.call<{ items: Key[] }>('/v1/keys?limit=50')).items;
      // One formation for the two presses.
      expect(keys.filter((k) => k.kind === 'hardware' && k.temporary)).toHaveLength(1);
      const formed = keys.find((k) => k.kind === 'hardware' && k.temporary)!;
      expect(formed.baseKeyId).toBe(cloud!.id);
      expect(formed.status).toBe('active');
      expect(formed.certificate!.notAfter).toBe(cloud!.certificate!.notAfter);
      const row = page.locator(`tr[data-key-id="${formed.id}"]`);
      await row.waitFor();
      expect(await page.locator('tbody tr[data-key-id]').count()).toBe(2);
      expect(await row.getAttribute('class')).toContain('keys__row--new');
      expect(await row.getByTestId('status-badge').innerText()).toBe('Активний');
      expect(await row.innerText()).toContain('Тимчасовий апаратний ключ');
      expect((await row.getByTestId('validity').innerText()).replace(/\s+/g, ' ')).toBe(`з ${kyiv(formed.certificate!.notBefore)} по ${kyiv(cloud!.certificate!.notAfter)}`);
      await shot('keys-after');
    });

    it('asks for the current token password once the token has one', async () => {
      await until('token reports its PIN', async () => (await api.call<{ items: Token[] }>('/v1/tokens')).items[0]?.userPinInitialized === true);
      const dialog = await openGenerateDialog('1 тиждень');
      await dialog.getByLabel('Поточний пароль токена', { exact: true }).waitFor();
      await fillForm({ cloud: env.demoUser.cloudKeyPassword, next: 'Token-Pass-2', confirm: 'Token-Pass-2' });
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog, /Введіть поточний пароль токена/);
      await shot('current-token-password');
      await dialog.getByRole('button', { name: 'Закрити', exact: true }).click();
    });
  });

  describe('a failure on the token', () => {
    it('explains a wrong current token password, marks the failed step and offers to try again', async () => {
      const dialog = await openGenerateDialog('1 тиждень');
      await dialog.getByLabel('Поточний пароль токена', { exact: true }).fill('Wrong-Token-Pass');
      await fillForm({ cloud: env.demoUser.cloudKeyPassword, next: 'Token-Pass-2', confirm: 'Token-Pass-2' });
      await recordSteps();
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog, /Не вдалося сформувати тимчасовий апаратний ключ\./, 120_000);
      expect(await dialog.innerText()).toContain('Невірний поточний пароль токена');
      expect(await dialog.getByTestId('live-region').innerText()).toContain('Невірний поточний пароль токена');
      const seen = await recordedSteps();
      expect(seen[0]).toBe('active,pending,pending,pending');
      expect(seen.at(-1)).toBe('done,failed,pending,pending');
      const body = JSON.parse(posts.at(-1)!.postData()!) as Record<string, string>;
      expect(body['currentTokenPassword']!.split('.')).toHaveLength(5);
      expect(JSON.stringify(body)).not.toContain('Wrong-Token-Pass');
      await shot('token-failure');
      await dialog.getByRole('button', { name: 'Спробувати ще раз' }).click();
      await dialog.getByLabel('Поточний пароль токена', { exact: true }).waitFor();
      await dialog.getByRole('button', { name: 'Закрити', exact: true }).click();
    });
  });

  describe('too many wrong passwords', () => {
    it('counts the attempts down, then says the key access is blocked and the menu follows', async () => {
      const [cloud] = (await api.call<{ items: Key[] }>('/v1/keys?limit=50')).items.filter((k) => k.kind === 'cloud');
      const dialog = await openGenerateDialog('1 доба');
      await dialog.getByLabel('Поточний пароль токена', { exact: true }).fill(NEW_PASSWORD);
      await fillForm({ cloud: 'Not-The-Password-1', next: 'Token-Pass-2', confirm: 'Token-Pass-2' });
      const cloudField = dialog.getByLabel('Пароль до поточного ключа у депозитарії', { exact: true });
      const expected = [/Залишилось 4 спроби/, /Залишилось 3 спроби/, /Залишилось 2 спроби/, /Залишилось 1 спроба,/, /Це була остання спроба: доступ до ключа заблоковано/];
      for (const [i, pattern] of expected.entries()) {
        if (i > 0) await cloudField.fill(`Not-The-Password-${i + 1}`);
        await dialog.getByRole('button', { name: 'Згенерувати' }).click();
        await expectText(dialog, pattern, 30_000);
      }
      await shot('last-attempt');
      // Even the right password is refused now, before it is checked.
      await cloudField.fill(env.demoUser.cloudKeyPassword);
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog.getByRole('alert'), /Доступ до ключа заблоковано після кількох невдалих спроб/, 30_000);
      expect(await dialog.getByRole('button', { name: 'Згенерувати' }).isDisabled()).toBe(true);
      await shot('access-blocked');
      await dialog.getByRole('button', { name: 'Закрити', exact: true }).click();

      const row = page.locator(`tr[data-key-id="${cloud!.id}"]`);
      await row.getByTestId('access-badge').waitFor();
      await cloudMenuButton().click();
      const item = page.getByRole('menuitem', { name: /Сформувати тимчасовий апаратний ключ/ });
      expect(await item.getAttribute('aria-disabled')).toBe('true');
      expect(await item.innerText()).toContain('доступ до особистого ключа заблоковано');
      expect(await page.getByRole('menuitem', { name: /Активувати доступ/ }).getAttribute('aria-disabled')).toBeNull();
      await item.focus();
      await page.keyboard.press('Enter');
      expect(await page.locator('dialog[open]').count()).toBe(0);
      await shot('access-blocked-menu');
      await page.keyboard.press('Escape');

      // The operator lifts the lock; the key offers the flow again.
      await operatorRpc(env.stack.natsUrl, UNBLOCK_KEY_ACCESS, { keyId: cloud!.id, operator: 'cabinet-e2e' });
      await page.getByRole('button', { name: 'Оновити' }).click();
      await until('access badge gone', async () => (await row.getByTestId('access-badge').count()) === 0, 15_000, 200);
    });
  });

  describe('when the signing agent goes away', () => {
    it('explains that the token is gone when the agent stops while the dialog is open', async () => {
      const dialog = await openGenerateDialog('1 доба');
      await dialog.getByLabel('Поточний пароль токена', { exact: true }).fill(NEW_PASSWORD);
      await env.stopAgent();
      await until('agent offline', async () => (await api.call<{ items: Token[] }>('/v1/tokens')).items.length === 0, 60_000, 1_000);
      await fillForm({ cloud: env.demoUser.cloudKeyPassword, next: 'Token-Pass-2', confirm: 'Token-Pass-2' });
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog, /Токен більше не доступний/, 30_000);
      await expectText(dialog, /Встановіть агент підпису, підключіть токен і перезавантажте сторінку/);
      await shot('token-gone');
      await dialog.getByRole('button', { name: 'Закрити', exact: true }).click();
    });

    it('tells how to install the signing agent after a reload with no agent online', async () => {
      await page.reload();
      await page.locator('tbody tr[data-key-id]').first().waitFor();
      const dialog = await openGenerateDialog('1 доба');
      await dialog.getByTestId('no-agent').waitFor();
      expect(await dialog.getByTestId('no-agent').innerText()).toContain('Встановіть агент підпису, підключіть токен і перезавантажте сторінку.');
      const before = posts.length;
      await fillForm({ cloud: env.demoUser.cloudKeyPassword, next: 'Token-Pass-2', confirm: 'Token-Pass-2' });
      await dialog.getByRole('button', { name: 'Згенерувати' }).click();
      await expectText(dialog, /Токен не вибрано/);
      expect(posts.length).toBe(before);
      await shot('no-agent');
      await dialog.getByRole('button', { name: 'Закрити', exact: true }).click();
    });
  });

  describe('an organisation key whose certificate ends soon', () => {
    it('shows the organisation columns and notes the periods cut short by the base certificate', async () => {
      const now = Date.now();
      await api.call('/v1/dev/users', {
        method: 'POST',
        body: JSON.stringify({
          fullName: 'Петренко Олена Іванівна', rnokpp: '2222222222', organization: 'ТОВ «Приклад»', edrpou: '12345678', position: 'Директор',
          cloudKeyPassword: 'Second-Cloud-Key-1',
          certificate: { notBefore: new Date(now - 86_400_000).toISOString(), notAfter: new Date(now + 3 * 86_400_000).toISOString() },
        }),
      });
      await noDialogLeft();
      await page.getByRole('button', { name: 'Вийти' }).click();
      await page.getByLabel('РНОКПП').fill('2222222222');
      await page.getByRole('button', { name: 'Увійти' }).click();
      const row = page.locator('tbody tr[data-key-id]').first();
      await row.waitFor();
      const cells = await row.getByRole('cell').allInnerTexts();
      expect(cells[0]).toContain('ТОВ «Приклад»');
      expect(cells[0]).toContain('12345678');
      expect(cells[1]).toContain('Петренко Олена Іванівна');
      expect(cells[1]).toContain('Директор');
      await cloudMenuButton().click();
      await page.getByRole('menuitem', { name: /Сформувати тимчасовий апаратний ключ/ }).click();
      const dialog = validityDialog();
      const option = (name: string) => dialog.getByRole('radio', { name: new RegExp(name) }).locator('xpath=..');
      await expectText(option('1 тиждень'), /Строк скорочено до кінця дії основного сертифіката/);
      await expectText(option('1 місяць'), /Строк скорочено до кінця дії основного сертифіката/);
      await expectText(option('1 доба'), /з \d/);
      expect(await option('1 доба').innerText()).not.toContain('Строк скорочено');
      expect(await option('До кінця дії основного сертифікату').innerText()).not.toContain('Строк скорочено');
      await dialog.getByRole('radio', { name: /1 місяць/ }).check();
      await shot('validity-capped');
      await dialog.getByRole('button', { name: 'Закрити', exact: true }).click();

      // An operator blocks the key: the badge says so and the menu keeps only the certificate views.
      const keyId = (await row.getAttribute('data-key-id'))!;
      await operatorRpc(env.stack.natsUrl, BLOCK_KEY, { keyId, operator: 'cabinet-e2e', reason: 'test' });
      await until('key blocked', async () => {
        await page.getByRole('button', { name: 'Оновити' }).click();
        return (await row.getByTestId('status-badge').innerText()) === 'Заблокований';
      }, 20_000, 500);
      await cloudMenuButton().click();
      const item = page.getByRole('menuitem', { name: /Сформувати тимчасовий апаратний ключ/ });
      expect(await item.getAttribute('aria-disabled')).toBe('true');
      expect(await item.innerText()).toContain('ключ заблоковано');
      await shot('blocked-key');
      await page.keyboard.press('Escape');
    });
  });

  describe('pages of the key list', () => {
    it('shows ten keys a page, moves forwards and back by cursor, and changes the page size', async () => {
      // The demo user has three keys; this test serves a longer list (api.md's shape and keyset
      // cursors) from the browser's network layer to drive the page's own paging.
      const statuses = ['active', 'pending', 'blocked', 'expired', 'revoked', 'failed'] as const;
      const all = Array.from({ length: 25 }, (_, i) => ({
        id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`, kind: i === 24 ? 'cloud' : 'hardware', temporary: i !== 24, baseKeyId: null,
        owner: { organization: 'ТОВ «Приклад»', edrpou: '12345678', fullName: 'Петренко Олена Іванівна', rnokpp: '2222222222', position: 'Директор' },
        status: statuses[i % statuses.length], createdAt: new Date(Date.UTC(2021, 7, 25, 13, 59) - i * 3_600_000).toISOString(),
        certificate: i % 6 === 1 || i % 6 === 5 ? null : { serialNumber: `${i}`, subject: 'CN=x', issuer: 'CN=CA', notBefore: '2021-08-25T13:21:00Z', notAfter: '2022-08-25T13:21:00Z' },
        token: i === 24 ? null : { serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771' },
        actions: ['view-application'],
      }));
      const seen: string[] = [];
      await page.route(/\/v1\/keys\?/, async (route) => {
        const url = new URL(route.request().url());
        seen.push(url.search);
        const limit = Number(url.searchParams.get('limit'));
        const start = Number(url.searchParams.get('cursor') ?? 0);
        const items = all.slice(start, start + limit);
        await route.fulfill({ json: { items, nextCursor: start + limit < all.length ? String(start + limit) : null } });
      });
      try {
        await page.getByRole('button', { name: 'Оновити' }).click();
        const rows = page.locator('tbody tr[data-key-id]');
        const info = page.locator('.pager__info');
        await until('first page', async () => (await rows.count()) === 10 && (await info.innerText()) === '1–10');
        expect(await rows.first().getByTestId('validity').innerText()).toContain('з 25.08.2021 16:21');
        await shot('page-1');
        await page.getByRole('button', { name: 'Наступна сторінка' }).click();
        await until('second page', async () => (await info.innerText()) === '11–20');
        await page.getByRole('button', { name: 'Наступна сторінка' }).click();
        await until('last page', async () => (await info.innerText()) === '21–25 з 25' && (await rows.count()) === 5);
        expect(await page.getByRole('button', { name: 'Наступна сторінка' }).isDisabled()).toBe(true);
        await page.getByRole('button', { name: 'Попередня сторінка' }).click();
        await until('back to the second page', async () => (await info.innerText()) === '11–20');
        await page.getByLabel('На сторінці:').selectOption('20');
        await until('twenty a page', async () => (await rows.count()) === 20 && (await info.innerText()) === '1–20');
        expect(seen.map((q) => new URLSearchParams(q).get('limit'))).toContain('20');
        expect(await page.getByTestId('status-badge').allInnerTexts()).toEqual(expect.arrayContaining(['Активний', 'Формується', 'Заблокований', 'Строк дії минув', 'Скасований', 'Не сформовано']));
        await shot('page-size-20');
      } finally {
        await page.unroute(/\/v1\/keys\?/);
      }
    });
  });
});
