package io.tidings.server.outbound;

/**
 * A webhook or Web Push target that Tidings will not deliver to. {@link #getMessage()} is a reason to
 * show to the user who registered the URL ("resolves to a private address (10.0.0.5)", "https is
 * required"); {@link #reason()} is a short machine code:
 *
 * <ul>
 *   <li>{@code invalid_url}: not a URL at all, or with characters a URL cannot have;
 *   <li>{@code relative}: not an absolute URL;
 *   <li>{@code scheme}: not http or https;
 *   <li>{@code userinfo}: a user name or password in the URL;
 *   <li>{@code fragment}: a {@code #fragment};
 *   <li>{@code host}: no host, or one that is neither a valid name nor a valid IP address;
 *   <li>{@code port}: a port outside 1-65535;
 *   <li>{@code zone_id}: an IPv6 zone id ({@code [fe80::1%25eth0]});
 *   <li>{@code private_address}: the host is, or resolves to, an address that is not public
 *       (loopback, private, link-local, ...) and is not allow-listed;
 *   <li>{@code https_required}: {@code http://} to an address that is not allow-listed;
 *   <li>{@code unresolvable}: the name has no address (or DNS failed).
 * </ul>
 */
public final class TargetRefusedException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String reason;

  public TargetRefusedException(String reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  /** The machine code, such as {@code private_address}. */
  public String reason() {
    return reason;
  }
}
