package io.tidings.server.webpush;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECFieldFp;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;
import java.util.Base64;

/**
 * P-256 (secp256r1) keys in the raw forms that Web Push uses: a public key is the 65-byte
 * uncompressed point {@code 0x04 || X || Y} (X9.62), a private key the 32-byte big-endian scalar;
 * both travel as base64url without padding.
 */
final class P256 {
  static final ECParameterSpec SPEC;
  private static final BigInteger P;
  private static final BigInteger A;
  private static final BigInteger B;
  private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();

  static {
    try {
      AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
      params.init(new ECGenParameterSpec("secp256r1"));
      SPEC = params.getParameterSpec(ECParameterSpec.class);
    } catch (GeneralSecurityException e) {
      throw new ExceptionInInitializerError("this JVM has no secp256r1: " + e);
    }
    P = ((ECFieldFp) SPEC.getCurve().getField()).getP();
    A = SPEC.getCurve().getA();
    B = SPEC.getCurve().getB();
  }

  private P256() {}

  static KeyPair generate() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot generate a P-256 key pair", e);
    }
  }

  /**
   * The public key of a 65-byte uncompressed point, which must lie on the curve: RFC 8291 section 7
   * requires the check, since ECDH with an off-curve point can leak the private key.
   */
  static ECPublicKey publicKey(byte[] point, String what) {
    if (point.length != 65 || point[0] != 0x04) {
      throw new IllegalArgumentException(what + " must be a 65-byte uncompressed P-256 point (0x04 || X || Y), got "
          + (point.length == 65 ? "a first byte of " + (point[0] & 0xff) : point.length + " bytes"));
    }
    BigInteger x = new BigInteger(1, Arrays.copyOfRange(point, 1, 33));
    BigInteger y = new BigInteger(1, Arrays.copyOfRange(point, 33, 65));
    // y^2 = x^3 + ax + b (mod p), coordinates in [0, p). P-256 has cofactor 1, so a point on the
    // curve other than infinity (which has no uncompressed form) is in the prime-order group.
    if (x.compareTo(P) >= 0 || y.compareTo(P) >= 0
        || !y.multiply(y).subtract(x.pow(3).add(A.multiply(x)).add(B)).mod(P).equals(BigInteger.ZERO)) {
      throw new IllegalArgumentException(what + " is not a point on the P-256 curve");
    }
    try {
      return (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(x, y), SPEC));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(what + " is not a valid P-256 public key (" + e.getMessage() + ")", e);
    }
  }

  /** The private key of a 32-byte big-endian scalar in [1, n). */
  static ECPrivateKey privateKey(byte[] scalar, String what) {
    if (scalar.length != 32) {
      throw new IllegalArgumentException(what + " must be a 32-byte P-256 private scalar, got " + scalar.length + " bytes");
    }
    BigInteger s = new BigInteger(1, scalar);
    if (s.signum() == 0 || s.compareTo(SPEC.getOrder()) >= 0) {
      throw new IllegalArgumentException(what + " is not a valid P-256 private scalar (it must be in [1, n))");
    }
    try {
      return (ECPrivateKey) KeyFactory.getInstance("EC").generatePrivate(new ECPrivateKeySpec(s, SPEC));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(what + " is not a valid P-256 private key (" + e.getMessage() + ")", e);
    }
  }

  /** {@code 0x04 || X || Y}, each coordinate left-padded to 32 bytes. */
  static byte[] encode(ECPublicKey key) {
    byte[] out = new byte[65];
    out[0] = 0x04;
    fixed32(key.getW().getAffineX(), out, 1);
    fixed32(key.getW().getAffineY(), out, 33);
    return out;
  }

  static byte[] encode(ECPrivateKey key) {
    byte[] out = new byte[32];
    fixed32(key.getS(), out, 0);
    return out;
  }

  private static void fixed32(BigInteger v, byte[] out, int at) {
    // toByteArray may carry a leading sign byte, or be shorter than 32 bytes
    byte[] b = v.toByteArray();
    int skip = b.length > 32 ? b.length - 32 : 0;
    System.arraycopy(b, skip, out, at + 32 - (b.length - skip), b.length - skip);
  }

  static String base64Url(byte[] bytes) {
    return BASE64URL.encodeToString(bytes);
  }

  /** Decodes base64url, with or without {@code =} padding; anything else (such as {@code +} or {@code /}) is refused. */
  static byte[] base64UrlDecode(String text, String what) {
    try {
      return Base64.getUrlDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + " is not base64url (" + e.getMessage() + ")", e);
    }
  }
}
