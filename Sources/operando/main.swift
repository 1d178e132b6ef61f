import ArgumentParser
import LiveView

// A bare `--live` means the default address (ArgumentParser options always take a value).
Operando.main(LiveViewConfiguration.expandingBareLiveOption(Array(CommandLine.arguments.dropFirst())))
