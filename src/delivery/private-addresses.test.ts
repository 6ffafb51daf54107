import { describe, expect, it } from 'vitest';
import { addressProblem, isPrivateAddress } from './private-addresses.ts';

// One address from each range of IANA's IPv4 special-purpose address registry (and multicast).
const IPV4_SPECIAL: [string, string][] = [
  ['0.0.0.0', '"this network" 0.0.0.0/8'],
  ['0.1.2.3', '"this network" 0.0.0.0/8'],
  ['10.1.2.3', 'private 10/8'],
  ['100.64.0.1', 'shared address space 100.64/10'],
  ['127.0.0.1', 'loopback 127/8'],
  ['127.255.255.254', 'loopback 127/8'],
  ['169.254.169.254', 'link-local 169.254/16 (cloud metadata)'],
  ['172.16.0.1', 'private 172.16/12'],
  ['172.31.255.255', 'private 172.16/12'],
  ['192.0.0.1', 'IETF protocol assignments 192.0.0.0/24'],
  ['192.0.0.9', 'PCP anycast 192.0.0.9'],
  ['192.0.0.170', 'NAT64 discovery 192.0.0.170'],
  ['192.0.2.1', 'documentation TEST-NET-1 192.0.2/24'],
  ['192.31.196.1', 'AS112 192.31.196/24'],
  ['192.52.193.1', 'AMT 192.52.193/24'],
  ['192.88.99.1', '6to4 relay anycast 192.88.99/24'],
  ['192.168.1.1', 'private 192.168/16'],
  ['192.175.48.1', 'AS112 direct delegation 192.175.48/24'],
  ['198.18.0.1', 'benchmarking 198.18/15'],
  ['198.19.255.254', 'benchmarking 198.18/15'],
  ['198.51.100.7', 'documentation TEST-NET-2 198.51.100/24'],
  ['203.0.113.9', 'documentation TEST-NET-3 203.0.113/24'],
  ['224.0.0.1', 'multicast 224/4'],
  ['240.0.0.1', 'reserved 240/4'],
  ['255.255.255.255', 'limited broadcast'],
];

// One address from each range of IANA's IPv6 special-purpose address registry, and site-local.
const IPV6_SPECIAL: [string, string][] = [
  ['::', 'unspecified ::/128'],
  ['::1', 'loopback ::1/128'],
  ['100::1', 'discard-only 100::/64'],
  ['100:0:0:1::1', 'dummy prefix 100:0:0:1::/64'],
  ['2001:1::1', 'PCP anycast (IETF protocol assignments 2001::/23)'],
  ['2001:2::1', 'benchmarking 2001:2::/48'],
  ['2001:3::1', 'AMT 2001:3::/32'],
  ['2001:4:112::1', 'AS112-v6 2001:4:112::/48'],
  ['2001:10::1', 'deprecated ORCHID 2001:10::/28'],
  ['2001:20::1', 'ORCHIDv2 2001:20::/28'],
  ['2001:30::1', 'drone remote ID 2001:30::/28'],
  ['2001:db8::1', 'documentation 2001:db8::/32'],
  ['2620:4f:8000::1', 'AS112 direct delegation 2620:4f:8000::/48'],
  ['3fff::1', 'documentation 3fff::/20'],
  ['5f00::1', 'segment routing 5f00::/16'],
  ['fc00::1', 'unique local fc00::/7'],
  ['fd12:3456::1', 'unique local fc00::/7'],
  ['fe80::1', 'link-local fe80::/10'],
  ['fe80::1%eth0', 'link-local with a zone'],
  ['fec0::1', 'site-local fec0::/10 (deprecated)'],
  ['ff02::1', 'multicast ff00::/8'],
  ['64:ff9b:1::8.8.8.8', 'NAT64 local-use 64:ff9b:1::/48, whatever it embeds'],
  ['4000::1', 'outside global unicast 2000::/3'],
];

// Addresses that embed an IPv4 address, judged by it: each embeds a special one.
const EMBEDDING_SPECIAL: [string, string][] = [
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, in hexadecimal'],
  ['::ffff:169.254.169.254', 'IPv4-mapped link-local'],
  ['::127.0.0.1', 'IPv4-compatible loopback'],
  ['::7f00:1', 'IPv4-compatible loopback, in hexadecimal'],
  ['::10.0.0.1', 'IPv4-compatible private'],
  ['::ffff:0:127.0.0.1', 'IPv4-translated (SIIT) loopback'],
  ['64:ff9b::127.0.0.1', 'NAT64 of loopback'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 of link-local 169.254.169.254'],
  ['64:ff9b::192.168.0.1', 'NAT64 of private'],
  ['2002:7f00:1::1', '6to4 of loopback'],
  ['2002:a00:1::1', '6to4 of private 10.0.0.1'],
  ['2002:c000:201::1', '6to4 of documentation 192.0.2.1'],
  // Teredo: server 65.54.227.120 (public); client 127.0.0.1, stored with every bit flipped.
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo whose client is loopback'],
  // Teredo: server 10.0.0.1; client 8.8.8.8 (f7f7:f7f7 flipped).
  ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo whose server is private'],
];

const PUBLIC: [string, string][] = [
  ['8.8.8.8', 'a public IPv4 address'],
  ['93.184.216.34', 'a public IPv4 address'],
  ['192.0.3.1', 'just past TEST-NET-1'],
  ['198.20.0.1', 'just past benchmarking'],
  ['2606:4700:4700::1111', 'a public IPv6 address'],
  ['2001:4860:4860::8888', 'a public IPv6 address in 2001::/16'],
  ['::ffff:8.8.8.8', 'IPv4-mapped public'],
  ['::8.8.8.8', 'IPv4-compatible public'],
  ['64:ff9b::8.8.8.8', 'NAT64 of a public address'],
  ['2002:808:808::1', '6to4 of a public address'],
  // Teredo: server 65.54.227.120, client 192.0.3.1 flipped.
  ['2001:0:4136:e378:8000:63bf:3fff:fcfe', 'Teredo between public addresses'],
];

describe('private destination addresses', () => {
  it.each(IPV4_SPECIAL)('refuses %s: %s', (address) => {
    expect(addressProblem(address)).not.toBeNull();
  });
  it.each(IPV6_SPECIAL)('refuses %s: %s', (address) => {
    expect(addressProblem(address)).not.toBeNull();
  });
  it.each(EMBEDDING_SPECIAL)('refuses %s: %s', (address) => {
    expect(addressProblem(address)).not.toBeNull();
  });
  it.each(PUBLIC)('accepts %s: %s', (address) => {
    expect(addressProblem(address)).toBeNull();
  });

  it('names the embedded address a refusal rests on', () => {
    expect(addressProblem('64:ff9b::127.0.0.1')).toBe('NAT64 of 127.0.0.1, loopback');
    expect(addressProblem('::127.0.0.1')).toBe('IPv4-compatible of 127.0.0.1, loopback');
    expect(addressProblem('2002:c000:201::1')).toBe('6to4 of 192.0.2.1, reserved');
    expect(addressProblem('2001:0:4136:e378:8000:63bf:80ff:fffe')).toBe('Teredo of 127.0.0.1, loopback');
  });

  it('refuses what is not an IP address, rather than guessing', () => {
    expect(isPrivateAddress('localhost')).toBe(true);
    expect(isPrivateAddress('0x7f.1')).toBe(true);
    expect(isPrivateAddress('')).toBe(true);
  });
});
