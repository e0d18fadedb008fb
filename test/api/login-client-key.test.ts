import { addressKey as clientKey } from '../../api/client-address';
import { loadConfig } from '../../config';

describe('the per-IP login key and TRUST_PROXY', () => {
  it('keys IPv4 as it is, IPv6 by its /64, an IPv4-mapped address as IPv4', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    // every address of one /64 is one client, however written
    const keys = ['2001:db8:1:2:3:4:5:6', '2001:DB8:1:2::9', '2001:0db8:0001:0002:ffff::', '2001:db8:1:2::1.2.3.4', 'fe80::1%eth0'].map(clientKey);
    expect(keys.slice(0, 4)).toEqual(Array(4).fill('2001:db8:1:2::/64'));
    expect(keys[4]).toBe('fe80:0:0:0::/64');
    expect(clientKey('2001:db8:1:3::1')).not.toBe(clientKey('2001:db8:1:2::1'));
  });

  it('TRUST_PROXY: false by default, a hop count, or a list of addresses; anything else refused', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
    expect(() => loadConfig({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
  });
});
