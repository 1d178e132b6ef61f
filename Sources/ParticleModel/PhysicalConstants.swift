/// Physical constants (CODATA 2018), SI units.
public enum PhysicalConstants {
    /// Faraday constant, C/mol.
    public static let faraday = 96485.33212
    /// Gas constant, J/(mol K).
    public static let gas = 8.314462618
}
