import ArgumentParser
import ParticleModel

struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the default parameter set (nmc87) as a TOML file to start your own from.",
        discussion: "Example: operando params > mine.toml; edit; operando simulate ... --params mine.toml")

    func run() throws {
        print(ParameterSet.nmc87.tomlText, terminator: "")
    }
}
