package io.tidings.server.webpush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.Arrays;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * RFC 8291 encryption: the worked example of section 5 with the intermediate values of Appendix A
 * byte for byte, the size limit, and fresh keys per message. That browsers' own decryption accepts
 * the output is shown with an independent implementation in {@link WebPushInteropTest}.
 */
class PushEncryptionTest {
  // RFC 8291 Appendix A: the inputs...
  static final String PLAINTEXT = "When I grow up, I want to be a watermelon";
  static final String AS_PUBLIC = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
  static final String AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
  static final String UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
  static final String SALT = "DGv6ra1nlYgDCS1FRnbzlw";
  static final String AUTH_SECRET = "BTBZMqHH6r4Tts7J_aSIgg";
  // ...and the message of section 5 (there with line breaks), which is the 86-byte header followed
  // by the ciphertext that Appendix A gives.
  static final String HEADER = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
  static final String CIPHERTEXT = "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1VhjVkHsUoEsbI_0LpXMuGvnzQ";
  static final String MESSAGE = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
      + "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
      + "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

  @Test
  void rfc8291AppendixA_isReproducedExactly() {
    VapidKeys as = VapidKeys.fromBase64Url(AS_PUBLIC, AS_PRIVATE);
    byte[] body = PushEncryption.encrypt(PLAINTEXT.getBytes(StandardCharsets.US_ASCII), b64(UA_PUBLIC), b64(AUTH_SECRET),
        new KeyPair(as.publicKey(), as.privateKey()), b64(SALT));

    assertThat(b64(body)).isEqualTo(MESSAGE);
    assertThat(b64(Arrays.copyOfRange(body, 0, 86))).isEqualTo(HEADER);
    assertThat(b64(Arrays.copyOfRange(body, 86, body.length))).isEqualTo(CIPHERTEXT);
    // 86 + 41 + 1 + 16. The example request in section 5 says "Content-Length: 145", but its body
    // (192 base64url characters) is 144 bytes: the header line is off by one, not the body.
    assertThat(body).hasSize(144);
  }

  @Test
  void theHeader_holdsSaltRecordSizeAndTheSendersKey() {
    PushSubscriptionKeys to = subscription();
    byte[] body = PushEncryption.encrypt("hello".getBytes(StandardCharsets.UTF_8), to);
    ByteBuffer b = ByteBuffer.wrap(body);
    b.position(16);
    assertThat(b.getInt()).isEqualTo(PushEncryption.RECORD_SIZE);
    assertThat(b.get()).isEqualTo((byte) 65);
    assertThat(b.get()).as("keyid is an uncompressed point").isEqualTo((byte) 0x04);
    assertThat(body).hasSize(PushEncryption.HEADER_BYTES + 5 + 1 + PushEncryption.TAG_BYTES);
  }

  @Test
  void maxPlaintext_makesExactlyA4096ByteBody_andOneMoreByteIsRefused() {
    PushSubscriptionKeys to = subscription();
    assertThat(PushEncryption.MAX_PLAINTEXT).isEqualTo(4096 - 86 - 1 - 16);

    byte[] body = PushEncryption.encrypt(new byte[PushEncryption.MAX_PLAINTEXT], to);
    assertThat(body).hasSize(4096);

    assertThatThrownBy(() -> PushEncryption.encrypt(new byte[PushEncryption.MAX_PLAINTEXT + 1], to))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3993");
  }

  @Test
  void anEmptyPlaintext_isAllowed() {
    assertThat(PushEncryption.encrypt(new byte[0], subscription())).hasSize(86 + 1 + 16);
  }

  @Test
  void twoEncryptionsOfTheSamePlaintext_differInSaltKeyAndCiphertext() {
    PushSubscriptionKeys to = subscription();
    byte[] plaintext = PLAINTEXT.getBytes(StandardCharsets.US_ASCII);
    byte[] a = PushEncryption.encrypt(plaintext, to);
    byte[] b = PushEncryption.encrypt(plaintext, to);

    assertThat(a).hasSameSizeAs(b);
    assertThat(Arrays.copyOfRange(a, 0, 16)).as("salt").isNotEqualTo(Arrays.copyOfRange(b, 0, 16));
    assertThat(Arrays.copyOfRange(a, 21, 86)).as("sender key").isNotEqualTo(Arrays.copyOfRange(b, 21, 86));
    assertThat(Arrays.copyOfRange(a, 86, a.length)).as("ciphertext").isNotEqualTo(Arrays.copyOfRange(b, 86, b.length));
  }

  @Test
  void badInputs_areRefused() {
    VapidKeys as = VapidKeys.fromBase64Url(AS_PUBLIC, AS_PRIVATE);
    KeyPair pair = new KeyPair(as.publicKey(), as.privateKey());
    byte[] p = PLAINTEXT.getBytes(StandardCharsets.US_ASCII);
    assertThatThrownBy(() -> PushEncryption.encrypt(p, b64(UA_PUBLIC), new byte[15], pair, b64(SALT)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16 bytes");
    assertThatThrownBy(() -> PushEncryption.encrypt(p, b64(UA_PUBLIC), b64(AUTH_SECRET), pair, new byte[8]))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("salt");
    byte[] offCurve = b64(UA_PUBLIC);
    offCurve[64] ^= 1;
    assertThatThrownBy(() -> PushEncryption.encrypt(p, offCurve, b64(AUTH_SECRET), pair, b64(SALT)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a point on the P-256 curve");
  }

  static PushSubscriptionKeys subscription() {
    return new PushSubscriptionKeys(URI.create("https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV"),
        b64(UA_PUBLIC), b64(AUTH_SECRET));
  }

  static byte[] b64(String s) {
    return Base64.getUrlDecoder().decode(s);
  }

  static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
