import { isIPv6 } from 'node:net'

/**
 * The key a client address is counted under by the per-address limits (the
 * rate limit, failed authentications, open connections). An IPv4 address is
 * its own key. An IPv6 client usually holds a whole /64 (often more), so
 * counted address by address it could take as many budgets as it likes:
 * an IPv6 address is counted by its network of `ipv6Prefix` bits, written
 * `2001:db8:0:1:0:0:0:0/64` (128: by the address itself, written in full).
 * An IPv4-mapped address (`::ffff:192.0.2.1`, what a dual-stack socket
 * reports for an IPv4 client) is the IPv4 address it carries, so one client
 * has one key whichever way it connects. Anything else is left as it is.
 */
export function addressKey (address: string, ipv6Prefix: number): string {
  if (!address.includes(':')) return address
  // A zone index (fe80::1%eth0) names the local interface, not the client.
  const bare = address.split('%', 1)[0] as string
  if (!isIPv6(bare)) return address
  const groups = expand(bare)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high, low] = [groups[6] as number, groups[7] as number]
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  }
  const network = groups.map((g, i) => {
    const kept = Math.min(16, Math.max(0, ipv6Prefix - i * 16))
    return (g & (0xffff << (16 - kept))).toString(16)
  }).join(':')
  return ipv6Prefix >= 128 ? network : `${network}/${ipv6Prefix}`
}

/** The eight 16-bit groups of a valid IPv6 address (`::` filled in, a dotted IPv4 tail read as two groups). */
function expand (address: string): number[] {
  const [head = '', tail] = address.split('::') as [string, string | undefined]
  const parse = (part: string): number[] => part === ''
    ? []
    : part.split(':').flatMap((piece) => {
      if (!piece.includes('.')) return [parseInt(piece, 16)]
      const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number]
      return [(a << 8) | b, (c << 8) | d]
    })
  const left = parse(head)
  if (tail === undefined) return left
  const right = parse(tail)
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
}
