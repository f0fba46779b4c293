import ArgumentParser

/// The `sluice` command line (SPEC §2).
@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "An L7 proxy that splits traffic between active and preview model backends.",
        version: SluiceVersion.string,
        subcommands: [RunCommand.self, CheckCommand.self, DemoCommand.self, WeightsCommand.self, PromoteCommand.self,
                      RollbackCommand.self, StatusCommand.self, VersionCommand.self]
    )
}
