package io.tidings.server.outbound;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * IP literal parsing and the address classes the target guard forbids. Addresses are handled as raw
 * bytes (4 or 16) so that IPv4-mapped IPv6 addresses, which {@link InetAddress} sometimes unwraps into
 * {@link Inet4Address} and sometimes not, are judged the same way either way.
 */
final class IpAddresses {
  /** Why an address is forbidden; the phrase completes "is ..." / "resolves to ...". */
  enum Kind {
    UNSPECIFIED("an unspecified address"),
    LOOPBACK("a loopback address"),
    PRIVATE("a private address"),
    LINK_LOCAL("a link-local address"),
    SITE_LOCAL("a site-local address"),
    SHARED("a shared (carrier-grade NAT) address"),
    MULTICAST("a multicast address"),
    BROADCAST("a broadcast address"),
    RESERVED("a reserved address"),
    DOCUMENTATION("a documentation address"),
    BENCHMARKING("a benchmarking address"),
    TEREDO("a Teredo tunnel address");

    final String phrase;

    Kind(String phrase) {
      this.phrase = phrase;
    }
  }

  private IpAddresses() {}

  /**
   * Parses a host as an IPv4 address the way browsers (WHATWG URL) and curl ({@code inet_aton}) do:
   * one to four dot-separated parts, each decimal, octal (leading {@code 0}) or hex ({@code 0x}), the
   * last part filling the remaining bytes ({@code 127.1}, {@code 0x7f000001}, {@code 2130706433}); a
   * single trailing dot is ignored. Returns the four bytes, or null when the host is a name (its last
   * label is not a number).
   *
   * @throws IllegalArgumentException when the host ends in a number but is not a valid IPv4 address
   *     ({@code 1.2.3.4.5}, {@code 08.1}, {@code 256.1.1.1}): resolvers disagree on such names
   */
  static byte[] parseIpv4(String host) {
    String[] parts = host.split("\\.", -1);
    int n = parts.length;
    if (n > 1 && parts[n - 1].isEmpty()) {
      n--;
    }
    if (n == 0 || !endsInNumber(parts[n - 1])) {
      return null;
    }
    if (n > 4) {
      throw new IllegalArgumentException("too many parts");
    }
    long[] values = new long[n];
    for (int i = 0; i < n; i++) {
      values[i] = number(parts[i]);
      if (values[i] < 0) {
        throw new IllegalArgumentException("not a number: " + parts[i]);
      }
      if (i < n - 1 && values[i] > 255) {
        throw new IllegalArgumentException("part out of range: " + parts[i]);
      }
    }
    long last = values[n - 1];
    if (last >= 1L << (8 * (5 - n))) {
      throw new IllegalArgumentException("last part out of range: " + parts[n - 1]);
    }
    long address = last;
    for (int i = 0; i < n - 1; i++) {
      address |= values[i] << (8 * (3 - i));
    }
    return new byte[] {(byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address};
  }

  private static boolean endsInNumber(String last) {
    if (last.isEmpty()) {
      return false;
    }
    if (last.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return true;
    }
    return (last.startsWith("0x") || last.startsWith("0X")) && number(last) >= 0;
  }

  /** One IPv4 part, or -1. Values past 32 bits are -1 too: no valid address has them. */
  private static long number(String part) {
    if (part.isEmpty()) {
      return -1;
    }
    int radix = 10;
    String digits = part;
    if (part.startsWith("0x") || part.startsWith("0X")) {
      radix = 16;
      digits = part.substring(2);
    } else if (part.length() > 1 && part.charAt(0) == '0') {
      radix = 8;
      digits = part.substring(1);
    }
    long value = 0;
    for (int i = 0; i < digits.length(); i++) {
      int d = Character.digit(digits.charAt(i), radix);
      if (d < 0 || digits.charAt(i) > 0x7f) {
        return -1;
      }
      value = value * radix + d;
      if (value > 0xFFFF_FFFFL) {
        return -1;
      }
    }
    return value;
  }

  /** Parses strict dotted-decimal IPv4 ({@code a.b.c.d}, no leading zeros), or returns null. */
  static byte[] parseDottedQuad(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] bytes = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')
          || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
        return null;
      }
      int v = Integer.parseInt(p);
      if (v > 255) {
        return null;
      }
      bytes[i] = (byte) v;
    }
    return bytes;
  }

  /**
   * Parses an IPv6 address in RFC 4291 text form (hex groups, one {@code ::}, an optional trailing
   * dotted quad), without brackets or zone id. Returns the 16 bytes, or null.
   */
  static byte[] parseIpv6(String s) {
    if (s.isEmpty() || s.length() > 45) {
      return null;
    }
    int gap = s.indexOf("::");
    if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) {
      return null;
    }
    int[] groups = new int[8];
    if (gap < 0) {
      if (groups(s, groups, true) != 8) {
        return null;
      }
    } else {
      int[] head = new int[8];
      int[] tail = new int[8];
      int h = gap == 0 ? 0 : groups(s.substring(0, gap), head, false);
      String right = s.substring(gap + 2);
      int t = right.isEmpty() ? 0 : groups(right, tail, true);
      if (h < 0 || t < 0 || h + t > 7) {
        return null;
      }
      System.arraycopy(head, 0, groups, 0, h);
      System.arraycopy(tail, 0, groups, 8 - t, t);
    }
    byte[] bytes = new byte[16];
    for (int i = 0; i < 8; i++) {
      bytes[2 * i] = (byte) (groups[i] >>> 8);
      bytes[2 * i + 1] = (byte) groups[i];
    }
    return bytes;
  }

  /** Parses colon-separated groups into {@code out}; returns how many 16-bit groups, or -1. */
  private static int groups(String s, int[] out, boolean quadAllowed) {
    String[] parts = s.split(":", -1);
    int k = 0;
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i];
      if (quadAllowed && i == parts.length - 1 && p.indexOf('.') >= 0) {
        byte[] quad = parseDottedQuad(p);
        if (quad == null || k + 2 > out.length) {
          return -1;
        }
        out[k++] = ((quad[0] & 0xff) << 8) | (quad[1] & 0xff);
        out[k++] = ((quad[2] & 0xff) << 8) | (quad[3] & 0xff);
        continue;
      }
      if (p.isEmpty() || p.length() > 4 || k >= out.length) {
        return -1;
      }
      int v = 0;
      for (int j = 0; j < p.length(); j++) {
        int d = Character.digit(p.charAt(j), 16);
        if (d < 0 || p.charAt(j) > 0x7f) {
          return -1;
        }
        v = (v << 4) | d;
      }
      out[k++] = v;
    }
    return k;
  }

  /**
   * The address's bytes, with an IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) turned into its
   * four IPv4 bytes: the connection goes to that IPv4 address.
   */
  static byte[] bytes(InetAddress address) {
    return unmap(address.getAddress());
  }

  static byte[] unmap(byte[] a) {
    if (a.length == 16 && isMapped(a)) {
      return Arrays.copyOfRange(a, 12, 16);
    }
    return a;
  }

  /** An {@link InetAddress} for the bytes, without a name and without looking one up. */
  static InetAddress address(byte[] bytes) {
    try {
      return bytes.length == 4 ? InetAddress.getByAddress(bytes) : Inet6Address.getByAddress(null, bytes, -1);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /**
   * The address without its host name (so that nothing downstream can be tempted to resolve the name
   * again), IPv4-mapped IPv6 as IPv4, an IPv6 scope id kept.
   */
  static InetAddress bare(InetAddress address) {
    byte[] bytes = bytes(address);
    try {
      if (bytes.length == 16 && address instanceof Inet6Address v6) {
        return Inet6Address.getByAddress(null, bytes, v6.getScopeId() == 0 ? -1 : v6.getScopeId());
      }
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
    return address(bytes);
  }

  /** Dotted decimal for four bytes, RFC 5952 text ({@code fd00:ec2::254}) for sixteen. */
  static String text(byte[] bytes) {
    if (bytes.length == 4) {
      return (bytes[0] & 0xff) + "." + (bytes[1] & 0xff) + "." + (bytes[2] & 0xff) + "." + (bytes[3] & 0xff);
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((bytes[2 * i] & 0xff) << 8) | (bytes[2 * i + 1] & 0xff);
    }
    // The longest run of two or more zero groups (the first of equals) becomes "::".
    int bestStart = -1;
    int bestLength = 1;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = j;
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        out.append("::");
        i += bestLength - 1;
        continue;
      }
      if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
        out.append(':');
      }
      out.append(Integer.toHexString(g[i]));
    }
    return out.toString();
  }

  private static boolean isMapped(byte[] a) {
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }

  /** Why the address must not be a target, or null when it is a public unicast address. */
  static Kind forbidden(byte[] a) {
    return a.length == 4 ? forbidden4(a) : forbidden6(a);
  }

  private static Kind forbidden4(byte[] a) {
    int b0 = a[0] & 0xff;
    int b1 = a[1] & 0xff;
    int b2 = a[2] & 0xff;
    if (b0 == 0) {
      return Kind.UNSPECIFIED;
    }
    if (b0 == 10 || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168)) {
      return Kind.PRIVATE;
    }
    if (b0 == 127) {
      return Kind.LOOPBACK;
    }
    if (b0 == 169 && b1 == 254) {
      return Kind.LINK_LOCAL;
    }
    if (b0 == 100 && (b1 & 0xc0) == 64) {
      return Kind.SHARED;
    }
    if (b0 == 192 && b1 == 0 && b2 == 0) {
      return Kind.RESERVED; // IETF protocol assignments
    }
    if ((b0 == 192 && b1 == 0 && b2 == 2) || (b0 == 198 && b1 == 51 && b2 == 100) || (b0 == 203 && b1 == 0 && b2 == 113)) {
      return Kind.DOCUMENTATION;
    }
    if (b0 == 192 && b1 == 88 && b2 == 99) {
      return Kind.RESERVED; // the deprecated 6to4 relay anycast
    }
    if (b0 == 198 && (b1 & 0xfe) == 18) {
      return Kind.BENCHMARKING;
    }
    if ((b0 & 0xf0) == 224) {
      return Kind.MULTICAST;
    }
    if (b0 == 255 && b1 == 255 && b2 == 255 && (a[3] & 0xff) == 255) {
      return Kind.BROADCAST;
    }
    if ((b0 & 0xf0) == 240) {
      return Kind.RESERVED;
    }
    return null;
  }

  /**
   * The IPv4 address an IPv6 address carries, or null: IPv4-mapped {@code ::ffff:0:0/96},
   * IPv4-compatible {@code ::/96} (but not {@code ::} and {@code ::1}), NAT64 {@code 64:ff9b::/96} and
   * 6to4 {@code 2002::/16} (bits 16-48).
   */
  static byte[] embeddedIpv4(byte[] a) {
    if (a.length != 16) {
      return null;
    }
    if (isMapped(a)) {
      return Arrays.copyOfRange(a, 12, 16);
    }
    if (allZero(a, 0, 12)) {
      boolean special = allZero(a, 12, 15) && (a[15] == 0 || a[15] == 1);
      return special ? null : Arrays.copyOfRange(a, 12, 16);
    }
    if (a[0] == 0 && a[1] == 0x64 && a[2] == (byte) 0xff && a[3] == (byte) 0x9b && allZero(a, 4, 12)) {
      return Arrays.copyOfRange(a, 12, 16);
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
      return Arrays.copyOfRange(a, 2, 6);
    }
    return null;
  }

  private static Kind forbidden6(byte[] a) {
    if (allZero(a, 0, 15)) {
      if (a[15] == 0) {
        return Kind.UNSPECIFIED;
      }
      if (a[15] == 1) {
        return Kind.LOOPBACK;
      }
    }
    byte[] v4 = embeddedIpv4(a);
    if (v4 != null) {
      return forbidden4(v4);
    }
    int g0 = ((a[0] & 0xff) << 8) | (a[1] & 0xff);
    int g1 = ((a[2] & 0xff) << 8) | (a[3] & 0xff);
    int g2 = ((a[4] & 0xff) << 8) | (a[5] & 0xff);
    if (g0 == 0x64 && g1 == 0xff9b) {
      return Kind.RESERVED; // past the NAT64 /96: local-use NAT64 64:ff9b:1::/48 and the rest of the block
    }
    if (g0 == 0x2001 && g1 == 0) {
      return Kind.TEREDO;
    }
    if (g0 == 0x2001 && g1 == 0x0db8) {
      return Kind.DOCUMENTATION;
    }
    if (g0 == 0x2001 && g1 == 0x0002 && g2 == 0) {
      return Kind.BENCHMARKING;
    }
    if (g0 == 0x2001 && g1 < 0x0200) {
      return Kind.RESERVED; // 2001::/23, IETF protocol assignments
    }
    if (g0 == 0x3fff && g1 < 0x1000) {
      return Kind.DOCUMENTATION; // 3fff::/20 (RFC 9637)
    }
    if (g0 == 0x5f00) {
      return Kind.RESERVED; // SRv6 segment identifiers
    }
    if ((g0 & 0xfe00) == 0xfc00) {
      return Kind.PRIVATE;
    }
    if ((g0 & 0xffc0) == 0xfe80) {
      return Kind.LINK_LOCAL;
    }
    if ((g0 & 0xffc0) == 0xfec0) {
      return Kind.SITE_LOCAL;
    }
    if ((g0 & 0xff00) == 0xff00) {
      return Kind.MULTICAST;
    }
    if ((g0 & 0xe000) != 0x2000) {
      return Kind.RESERVED; // global unicast is 2000::/3 only; the rest is unassigned or special
    }
    return null;
  }

  private static boolean allZero(byte[] a, int from, int to) {
    for (int i = from; i < to; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
