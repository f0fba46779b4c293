import ArgumentParser
import Compression
import TLS

enum SluiceVersion {
    static let string = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version and the linked libraries.")

    func run() throws {
        print("sluice \(SluiceVersion.string)")
        print("openssl: \(TLSContext.libraryVersion)")
        print("zlib: \(Gzip.libraryVersion)")
    }
}
