import 'reflect-metadata';
import { Name } from '@peculiar/x509';
import { personSubjectName } from './person-subject.js';

describe('personSubjectName', () => {
  it('orders O, organizationIdentifier, title, CN, SN, G, serialNumber, C with PrintableString for C and serialNumber', () => {
    const name = new Name(personSubjectName({
      commonName: 'Петренко Петро Петрович', surname: 'Петренко', givenName: 'Петро Петрович', serialNumber: 'TINUA-1111111111',
      organization: 'ТОВ "Приклад"', organizationIdentifier: 'NTRUA-12345678', title: 'Директор', country: 'UA',
    }));
    expect(name.toString()).toBe('O=ТОВ \\"Приклад\\", 2.5.4.97=NTRUA-12345678, T=Директор, CN=Петренко Петро Петрович, SN=Петренко, G=Петро Петрович, 2.5.4.5=TINUA-1111111111, C=UA');
    const der = Buffer.from(name.toArrayBuffer()).toString('hex');
    expect(der).toContain(`1302${Buffer.from('UA').toString('hex')}`);
    expect(der).toContain(`1310${Buffer.from('TINUA-1111111111').toString('hex')}`);
  });

  it('leaves out what a natural person without an organisation does not have', () => {
    const name = new Name(personSubjectName({ commonName: 'Тест', surname: null, givenName: null, serialNumber: 'TINUA-1', organization: null, organizationIdentifier: null, title: null, country: 'UA' }));
    expect(name.toString()).toBe('CN=Тест, 2.5.4.5=TINUA-1, C=UA');
  });
});
