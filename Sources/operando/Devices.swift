import ArgumentParser
import RigDrivers

/// `operando devices [--fake]`: what a rig file can name on this machine.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List cameras (Aravis), GPIO chips and serial ports, with what a rig file needs.",
        discussion: "Example: operando devices --fake   (adds Aravis's in-process fake camera, so the listing works anywhere)")

    @Flag(help: "Also list Aravis's in-process fake camera (Fake_1).")
    var fake = false

    func run() throws {
        let cameras = AravisDeviceList.list(enableFake: fake)
        print(AravisDeviceList.report(cameras: cameras, gpioChips: AravisDeviceList.gpioChips(),
                                      serialPorts: AravisDeviceList.serialPorts()), terminator: "")
    }
}
