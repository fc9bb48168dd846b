package io.tidings.server.limits;

/** A place under the connection caps, held by one push connection or long poll until released. */
public final class Ticket {
  private final Limits owner;
  private final String key;
  private boolean released;

  Ticket(Limits owner, String key) {
    this.owner = owner;
    this.key = key;
  }

  /** Gives the place back; later calls do nothing. Call on the connection's event loop. */
  public void release() {
    if (released) {
      return;
    }
    released = true;
    owner.release(key);
  }
}
