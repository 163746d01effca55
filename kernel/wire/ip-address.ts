// Peer and upstream addresses as Node's sockets give them. A dual-stack socket reports an IPv4 peer
// as an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`): whatever judges or counts an address must see
// the IPv4 address it stands for.

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** The IPv4 address an IPv4-mapped IPv6 address stands for; any other address as it is. */
export function unmappedAddress(address: string): string {
  return MAPPED_IPV4.exec(address)?.[1] ?? address;
}
