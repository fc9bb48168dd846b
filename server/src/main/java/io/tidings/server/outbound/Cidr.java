package io.tidings.server.outbound;

import java.util.Arrays;
import java.util.Locale;

/** An address block of {@code server.webhooks.allow_targets}-style configuration: bytes and prefix length. */
record Cidr(byte[] network, int prefix) {
  /**
   * Parses {@code 10.0.0.0/8}, {@code ::1/128} or a bare address (/32 or /128). IPv4 must be dotted
   * decimal; an IPv4-mapped IPv6 block ({@code ::ffff:10.0.0.0/104}) becomes the IPv4 block, as mapped
   * addresses are judged as IPv4.
   *
   * @throws IllegalArgumentException naming the entry
   */
  static Cidr parse(String entry) {
    if (entry == null) {
      throw new IllegalArgumentException("allow-list entry is null");
    }
    String s = entry.strip();
    int slash = s.indexOf('/');
    String addressText = slash < 0 ? s : s.substring(0, slash);
    if (addressText.startsWith("[") && addressText.endsWith("]")) {
      addressText = addressText.substring(1, addressText.length() - 1);
    }
    byte[] address = addressText.indexOf(':') >= 0
        ? IpAddresses.parseIpv6(addressText.toLowerCase(Locale.ROOT))
        : IpAddresses.parseDottedQuad(addressText);
    if (address == null) {
      throw new IllegalArgumentException("allow-list entry \"" + entry + "\" is not an IP address or CIDR block"
          + " (such as 10.0.0.0/8, 127.0.0.1 or ::1/128)");
    }
    int bits = address.length * 8;
    int prefix = bits;
    if (slash >= 0) {
      String p = s.substring(slash + 1);
      if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
          || Integer.parseInt(p) > bits) {
        throw new IllegalArgumentException("allow-list entry \"" + entry + "\" has an invalid prefix length"
            + " (0-" + bits + ")");
      }
      prefix = Integer.parseInt(p);
    }
    byte[] masked = mask(address, prefix);
    if (!Arrays.equals(masked, address)) {
      throw new IllegalArgumentException("allow-list entry \"" + entry + "\" has bits set past its prefix; did you mean "
          + IpAddresses.text(masked) + "/" + prefix + "?");
    }
    if (address.length == 16 && prefix >= 96 && IpAddresses.unmap(address).length == 4) {
      return new Cidr(IpAddresses.unmap(address), prefix - 96);
    }
    return new Cidr(address, prefix);
  }

  /** Whether the address (4 or 16 bytes, IPv4-mapped already unwrapped) is in this block. */
  boolean contains(byte[] address) {
    return address.length == network.length && Arrays.equals(mask(address, prefix), network);
  }

  private static byte[] mask(byte[] address, int prefix) {
    byte[] out = address.clone();
    for (int i = 0; i < out.length; i++) {
      int keep = Math.max(0, Math.min(8, prefix - 8 * i));
      out[i] &= (byte) (0xff << (8 - keep));
    }
    return out;
  }

  @Override
  public String toString() {
    return IpAddresses.text(network) + "/" + prefix;
  }
}
