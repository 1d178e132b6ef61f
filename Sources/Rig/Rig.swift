/// Rig: hardware protocols, exposure loop, sequencer, safety interlocks, recorder, on-line monitor.
public enum RigModule {}
