// Client addresses as the access blocklist keys them: one spelling per address (an IPv4-mapped
// IPv6 address is its IPv4 address, IPv6 in its canonical lower-case compressed form), and the
// allow-list of addresses and subnets that are never blocked.
import net from 'node:net';

/** The canonical spelling of an IP address, or undefined when `raw` is not one. */
export function canonicalAddress(raw: string): string | undefined {
  const text = raw.trim();
  const family = net.isIP(text);
  if (family === 4) return new net.SocketAddress({ address: text, family: 'ipv4' }).address;
  if (family !== 6) return undefined;
  const v6 = new net.SocketAddress({ address: text, family: 'ipv6' }).address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  return mapped ? mapped[1] : v6;
}

/** A matcher for CFN_AUTH_BLOCK_ALLOW's entries (addresses and `address/bits` subnets). */
export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = net.isIP(address!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return (address) => {
    const type = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return net.isIP(address) !== 0 && list.check(address, type);
  };
}
