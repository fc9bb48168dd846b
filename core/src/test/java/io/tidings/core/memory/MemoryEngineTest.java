package io.tidings.core.memory;

import io.tidings.core.DedupeWindow;
import io.tidings.core.Engine;
import io.tidings.core.EngineContractTest;
import io.tidings.core.RetentionPolicy;
import java.time.Clock;

/** The in-memory engine against the engine contract. */
class MemoryEngineTest extends EngineContractTest {
  @Override
  protected Engine newEngine(RetentionPolicy retention, DedupeWindow dedupe, Clock clock) {
    return new MemoryEngine(retention, dedupe, clock);
  }

  @Override
  protected void trimNow(Engine engine) {
    ((MemoryEngine) engine).trimAll();
  }
}
