/// The trigger "line" of a software-triggered camera (the Aravis GigE fake, a camera without a wired
/// trigger input): the exposure loop's rising edge issues the camera's software trigger, so the same
/// loop, timeline and audit serve both kinds of camera. The underlying line (if any) is still driven.
public final class SoftwareTriggerLine: DigitalLine {
    public let name: String
    let camera: Camera
    let base: DigitalLine?
    /// The camera's error from the last failed trigger (the engine reports it as the camera's fault).
    public private(set) var lastError: Error?

    public init(camera: Camera, base: DigitalLine?) {
        self.camera = camera
        self.base = base
        name = "software trigger (\(camera.name))"
    }

    public func set(_ high: Bool) throws(GPIOError) {
        try base?.set(high)
        guard high else { return }
        do { try camera.softwareTrigger() } catch {
            lastError = error
            throw GPIOError.io(chip: "camera", line: name, reason: "\(error)")
        }
    }

    public func release() { base?.release() }
}
