'use strict';

/**
 * Which addresses a URL download may connect to.
 *
 * Loopback, private, link-local, carrier-grade NAT, multicast, reserved and documentation ranges are
 * refused unless ALLOW_PRIVATE_URLS is set: a relay that fetches any URL it is given must not become
 * a way into the network it runs in (SSRF). IPv4-mapped and NAT64 IPv6 addresses are judged by the
 * IPv4 address inside them; the other IPv6 forms that carry an IPv4 address (IPv4-compatible ::/96,
 * IPv4-translated ::ffff:0:0:0/96, 6to4 2002::/16, Teredo 2001::/32) are refused whole, so
 * [::127.0.0.1], [::ffff:0:7f00:1] and [2002:7f00:1::] can't reach loopback.
 */

const net = require('node:net');

const BLOCKED = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
]) BLOCKED.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  ['::', 96], ['::ffff:0:0:0', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 32], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
]) BLOCKED.addSubnet(prefix, bits, 'ipv6');

/** "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::7f00:1" → "127.0.0.1"; otherwise null. */
function embeddedIpv4(address) {
  const lower = address.toLowerCase();
  const match = /^(?:::ffff:|64:ff9b::)(.+)$/.exec(lower);
  if (!match) return null;
  if (net.isIPv4(match[1])) return match[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(match[1]);
  if (!hex) return null;
  const high = parseInt(hex[1], 16);
  const low = parseInt(hex[2], 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** True when `address` (an IP literal) is private, loopback, link-local or otherwise not public. */
function isPrivateAddress(address) {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = net.isIP(bare);
  if (family === 4) return BLOCKED.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    return v4 ? BLOCKED.check(v4, 'ipv4') : BLOCKED.check(bare, 'ipv6');
  }
  return true; // not an IP literal: never trust it as public
}

module.exports = { isPrivateAddress };
