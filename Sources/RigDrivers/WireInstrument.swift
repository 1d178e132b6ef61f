import Rig

/// The settings a wire-protocol potentiostat driver (SCPI, MethodSCRIPT) connects with.
protocol WireInstrumentConfiguration {
    /// Device name in messages; nil: the dialect and address.
    var name: String? { get }
    var address: String { get }
    /// The dialect's name as the rig file spells it.
    var dialectName: String { get }
    /// True only for firmware-sim's twin.
    var simulation: Bool { get }
    var timeoutMilliseconds: Int { get }
    /// Checks every value; returns the parsed address.
    func validated() throws(RigDriverError) -> TransportAddress
}

extension SCPIPotentiostatConfiguration: WireInstrumentConfiguration {
    var dialectName: String { dialect.rawValue }
}

extension MethodSCRIPTPotentiostatConfiguration: WireInstrumentConfiguration {
    var dialectName: String { dialect.rawValue }
}

/// What every wire-protocol driver does before its protocol's first command.
enum WireInstrument {
    /// Validates the configuration, names the device, refuses a virtual clock for a real instrument
    /// (only firmware-sim's twin may be driven by one) and opens the link.
    /// - Parameter openFailure: how a failed open reads ("cannot connect", "cannot open").
    /// - Throws: `PotentiostatError.rejected` for the configuration or the clock, `.disconnected`
    ///   when the link does not open.
    static func connect(_ c: some WireInstrumentConfiguration, clock: any Clock,
                        openFailure: String) throws -> (name: String, link: LineTransport) {
        let address: TransportAddress
        do { address = try c.validated() } catch {
            throw PotentiostatError.rejected(device: c.name ?? "\(c.dialectName) \(c.address)", command: "(configuration)", reason: "\(error)")
        }
        let name = c.name ?? "\(c.dialectName) \(address)"
        if clock.isVirtual && !c.simulation {
            throw PotentiostatError.rejected(device: name, command: "(configuration)",
                reason: "a virtual clock cannot drive a real instrument; simulation = true is only for firmware-sim's twin")
        }
        do {
            return (name, try LineTransport.open(address, timeoutMilliseconds: c.timeoutMilliseconds))
        } catch {
            throw PotentiostatError.disconnected(device: name, reason: "\(openFailure): \(error)")
        }
    }
}
