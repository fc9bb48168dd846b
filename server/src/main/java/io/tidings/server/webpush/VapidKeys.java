package io.tidings.server.webpush;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;

/**
 * The server's VAPID (RFC 8292) key pair: the P-256 key that signs the JWT of every push request.
 * Browsers are given its public key as {@code applicationServerKey}, and a push service then only
 * accepts pushes to that subscription signed with it, so the pair must stay the same across
 * restarts (losing it orphans every subscription).
 */
public final class VapidKeys {
  private final ECPublicKey publicKey;
  private final ECPrivateKey privateKey;
  private final String publicBase64Url;
  private final String privateBase64Url;

  private VapidKeys(ECPublicKey publicKey, ECPrivateKey privateKey) {
    this.publicKey = publicKey;
    this.privateKey = privateKey;
    this.publicBase64Url = P256.base64Url(P256.encode(publicKey));
    this.privateBase64Url = P256.base64Url(P256.encode(privateKey));
  }

  /** A new random key pair. */
  public static VapidKeys generate() {
    KeyPair pair = P256.generate();
    return new VapidKeys((ECPublicKey) pair.getPublic(), (ECPrivateKey) pair.getPrivate());
  }

  /**
   * The key pair from base64url (padding optional) of the 65-byte uncompressed public point and the
   * 32-byte private scalar, as {@link #publicKeyBase64Url()} and {@link #privateKeyBase64Url()} give
   * them.
   *
   * @throws IllegalArgumentException when either is malformed, the point is not on P-256, or the
   *     two keys do not belong together
   */
  public static VapidKeys fromBase64Url(String publicKey, String privateKey) {
    if (publicKey == null || privateKey == null) {
      throw new IllegalArgumentException("the VAPID public and private keys are both required");
    }
    ECPublicKey pub = P256.publicKey(P256.base64UrlDecode(publicKey.strip(), "the VAPID public key"), "the VAPID public key");
    ECPrivateKey priv = P256.privateKey(P256.base64UrlDecode(privateKey.strip(), "the VAPID private key"),
        "the VAPID private key");
    if (!belongTogether(pub, priv)) {
      throw new IllegalArgumentException("the VAPID public key does not belong to the private key");
    }
    return new VapidKeys(pub, priv);
  }

  /** Whether {@code priv} signs what {@code pub} verifies (the JDK has no public d·G to compare). */
  private static boolean belongTogether(ECPublicKey pub, ECPrivateKey priv) {
    try {
      byte[] probe = "tidings vapid key check".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance("SHA256withECDSA");
      signer.initSign(priv);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance("SHA256withECDSA");
      verifier.initVerify(pub);
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /**
   * Base64url without padding of the 65-byte uncompressed public point: what {@code GET
   * /v1/webpush/vapid-public-key} returns and browsers pass to {@code pushManager.subscribe} as
   * {@code applicationServerKey}, and the {@code k} of the Authorization header.
   */
  public String publicKeyBase64Url() {
    return publicBase64Url;
  }

  /** Base64url without padding of the 32-byte private scalar: what the store or configuration keeps. */
  public String privateKeyBase64Url() {
    return privateBase64Url;
  }

  ECPublicKey publicKey() {
    return publicKey;
  }

  ECPrivateKey privateKey() {
    return privateKey;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VapidKeys k && k.publicBase64Url.equals(publicBase64Url)
        && k.privateBase64Url.equals(privateBase64Url);
  }

  @Override
  public int hashCode() {
    return publicBase64Url.hashCode();
  }

  /** The public key only: the private one must not end up in logs. */
  @Override
  public String toString() {
    return "VapidKeys[public=" + publicBase64Url + "]";
  }
}
