package io.tidings.server.webpush;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.util.Arrays;
import java.util.Objects;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts a push message for one subscription as RFC 8291 says: content coding {@code aes128gcm}
 * (RFC 8188) in a single record, with a fresh ECDH key pair and a fresh 16-byte salt for every
 * message. The result is the whole request body, header included; send it with
 * {@code Content-Encoding: aes128gcm}.
 */
public final class PushEncryption {
  /** The {@code rs} written in the header. The one record is always shorter, as RFC 8291 section 4 requires. */
  public static final int RECORD_SIZE = 4096;
  /** The header: salt (16), rs (4), idlen (1) and the sender's public key as keyid (65). */
  public static final int HEADER_BYTES = 86;
  /** AES-GCM's authentication tag. */
  public static final int TAG_BYTES = 16;
  /** The body every push service must accept (RFC 8030 section 7.2). */
  public static final int MAX_BODY = 4096;
  /**
   * The largest plaintext whose body fits {@link #MAX_BODY}: 4096 - 86 (header) - 1 (padding
   * delimiter) - 16 (tag) = 3993, the number RFC 8291 section 4 gives.
   */
  public static final int MAX_PLAINTEXT = 3993;

  private static final int SALT_BYTES = 16;
  private static final byte PADDING_DELIMITER = 0x02; // RFC 8188: 0x02 ends the last (here the only) record
  private static final byte[] KEY_INFO = "WebPush: info\0".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CEK_INFO = "Content-Encoding: aes128gcm\0".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] NONCE_INFO = "Content-Encoding: nonce\0".getBytes(StandardCharsets.US_ASCII);
  private static final SecureRandom RANDOM = new SecureRandom();

  private PushEncryption() {}

  /**
   * The request body carrying {@code plaintext} to the subscription {@code to}.
   *
   * @throws IllegalArgumentException when {@code plaintext} is longer than {@link #MAX_PLAINTEXT}
   */
  public static byte[] encrypt(byte[] plaintext, PushSubscriptionKeys to) {
    Objects.requireNonNull(to, "to");
    checkLength(plaintext);
    byte[] salt = new byte[SALT_BYTES];
    RANDOM.nextBytes(salt);
    // Never reuse the key pair or the salt: the same (key, nonce) for two plaintexts breaks AES-GCM.
    return encrypt(plaintext, to.p256dh(), to.auth(), P256.generate(), salt);
  }

  /**
   * The same with a given sender key pair and salt, for reproducing RFC 8291 Appendix A. Never use
   * a key pair or salt twice.
   */
  static byte[] encrypt(byte[] plaintext, byte[] uaPublic, byte[] authSecret, KeyPair asKeys, byte[] salt) {
    checkLength(plaintext);
    if (authSecret.length != PushSubscriptionKeys.AUTH_SECRET_BYTES) {
      throw new IllegalArgumentException("the authentication secret must be 16 bytes, got " + authSecret.length);
    }
    if (salt.length != SALT_BYTES) {
      throw new IllegalArgumentException("the salt must be 16 bytes, got " + salt.length);
    }
    ECPublicKey ua = P256.publicKey(uaPublic, "the user agent's public key");
    byte[] asPublic = P256.encode((ECPublicKey) asKeys.getPublic());
    byte[] ecdhSecret = null;
    byte[] ikm = null;
    byte[] prk = null;
    byte[] cek = null;
    try {
      KeyAgreement agreement = KeyAgreement.getInstance("ECDH");
      agreement.init(asKeys.getPrivate());
      agreement.doPhase(ua, true);
      ecdhSecret = agreement.generateSecret();

      // RFC 8291 section 3.3: IKM = HKDF(salt = auth_secret, IKM = ecdh_secret, info = key_info, L = 32)
      byte[] keyInfo = ByteBuffer.allocate(KEY_INFO.length + 65 + 65).put(KEY_INFO).put(uaPublic).put(asPublic).array();
      ikm = hkdf(authSecret, ecdhSecret, keyInfo, 32);
      // RFC 8188 section 2.2 and 2.3: the content encryption key and nonce from the salt and IKM
      prk = hmac(salt, ikm);
      cek = expand(prk, CEK_INFO, 16);
      byte[] nonce = expand(prk, NONCE_INFO, 12);

      byte[] record = Arrays.copyOf(plaintext, plaintext.length + 1);
      record[plaintext.length] = PADDING_DELIMITER;
      Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
      gcm.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(cek, "AES"), new GCMParameterSpec(TAG_BYTES * 8, nonce));
      byte[] ciphertext = gcm.doFinal(record);

      return ByteBuffer.allocate(HEADER_BYTES + ciphertext.length)
          .put(salt)
          .putInt(RECORD_SIZE)
          .put((byte) asPublic.length)
          .put(asPublic)
          .put(ciphertext)
          .array();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot encrypt the push message: " + e.getMessage(), e);
    } finally {
      wipe(ecdhSecret, ikm, prk, cek);
    }
  }

  private static void checkLength(byte[] plaintext) {
    Objects.requireNonNull(plaintext, "plaintext");
    if (plaintext.length > MAX_PLAINTEXT) {
      throw new IllegalArgumentException("a push message holds at most " + MAX_PLAINTEXT + " bytes of plaintext, got "
          + plaintext.length);
    }
  }

  /** HKDF-SHA256 (RFC 5869) for outputs of at most one block (32 bytes), all that Web Push needs. */
  static byte[] hkdf(byte[] salt, byte[] ikm, byte[] info, int length) throws GeneralSecurityException {
    byte[] prk = hmac(salt, ikm);
    try {
      return expand(prk, info, length);
    } finally {
      wipe(prk);
    }
  }

  private static byte[] expand(byte[] prk, byte[] info, int length) throws GeneralSecurityException {
    if (length > 32) {
      throw new IllegalArgumentException("one HMAC-SHA256 block gives at most 32 bytes");
    }
    // T(1) = HMAC(PRK, info || 0x01), truncated
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(prk, "HmacSHA256"));
    mac.update(info);
    mac.update((byte) 0x01);
    byte[] t = mac.doFinal();
    byte[] out = Arrays.copyOf(t, length);
    wipe(t);
    return out;
  }

  private static byte[] hmac(byte[] key, byte[] data) throws GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return mac.doFinal(data);
  }

  private static void wipe(byte[]... secrets) {
    for (byte[] s : secrets) {
      if (s != null) {
        Arrays.fill(s, (byte) 0);
      }
    }
  }
}
