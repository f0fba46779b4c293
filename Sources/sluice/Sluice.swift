import ArgumentParser

/// The `sluice` command line (SPEC §2). Subcommands arrive with the
/// features behind them; `version` reports what this binary links.
@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "An L7 proxy that splits traffic between active and preview model backends.",
        version: SluiceVersion.string,
        subcommands: [VersionCommand.self]
    )
}
