/// A fault the simulated rig can be told to produce, at a run time or on demand.
public enum SimFault: Sendable, Equatable {
    /// The potentiostat's link drops: every later command throws `PotentiostatError.disconnected`.
    /// The cell keeps running the last technique, as an instrument does when its host goes away.
    case potentiostatDisconnect
    /// The next potentiostat command gets no answer: it blocks for the command timeout and throws
    /// `PotentiostatError.commandTimeout`; later commands work again.
    case potentiostatTimeout
    /// The working-electrode contact degrades (+`ohms` in series): under constant current the voltage
    /// runs into the compliance limit and samples report `inCompliance`.
    case complianceHit(ohms: Double)
    /// Exposures starting within `seconds` of the fault are never read out: `nextFrame` times out.
    case cameraTimeout(seconds: Double)
    /// The next `count` exposures are lost in transfer (their frame ids are skipped).
    case cameraDrop(count: Int)
    /// Setting the named GPIO line fails with `GPIOError.io` from then on.
    case gpioIOError(line: String)
}

/// A fault scheduled at a run time (seconds since the rig started).
public struct ScheduledFault: Sendable, Equatable {
    /// Run time at which the fault takes effect, s.
    public var atSeconds: Double
    /// What happens then.
    public var fault: SimFault
    public init(atSeconds: Double, fault: SimFault) { self.atSeconds = atSeconds; self.fault = fault }
}
