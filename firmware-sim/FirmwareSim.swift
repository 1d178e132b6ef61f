/// FirmwareSim: the rig's hardware simulated faithfully (cell, potentiostat, camera, GPIO chip, clock).
public enum FirmwareSimModule {}
