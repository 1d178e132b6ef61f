/// Errors of the rig controller (hardware errors keep their own types: `GPIOError`, `CameraError`,
/// `PotentiostatError`).
public enum RigError: Error, Sendable, Equatable, CustomStringConvertible {
    case realtime(String)
    case configuration(file: String, problem: String)
    case dataset(path: String, problem: String)
    case aborted(String)

    public var description: String {
        switch self {
        case .realtime(let s): return "real-time loop: \(s)"
        case .configuration(let f, let p): return "\(f): \(p)"
        case .dataset(let p, let s): return "dataset \(p): \(s)"
        case .aborted(let s): return "run aborted: \(s)"
        }
    }
}
