import ArgumentParser
import Config
import EventLoop
import Foundation
import Proxy
import Runtime

/// `sluice run`: the proxy, until SIGTERM/SIGINT (drain) — SIGHUP reloads.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the proxy.")

    @Option(name: [.customShort("c"), .long], help: "Config file.")
    var config = "conf/sluice.yaml"

    @Option(name: .long, help: "Data-plane listen address(es), comma-separated; overrides the file.")
    var listen: String?

    @Option(name: .long, help: "Admin listen address; overrides the file.")
    var admin: String?

    @Option(name: .long, help: "Worker threads (default: the file's `workers`, else one per core).")
    var workers: Int?

    func run() throws {
        var cfg = try loadOrExit(config)
        if let l = listen {
            let list = l.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
            for a in list where SocketAddress(a) == nil { throw ValidationError("--listen: '\(a)' is not an address like 0.0.0.0:80") }
            cfg.listen = list
        }
        if let a = admin {
            guard SocketAddress(a) != nil else { throw ValidationError("--admin: '\(a)' is not an address") }
            cfg.admin.listen = a
        }
        if let w = workers {
            guard w >= 1 else { throw ValidationError("--workers must be at least 1") }
            cfg.workers = w
        }

        Signals.block([SIGTERM, SIGINT, SIGHUP])
        let runtime: SluiceRuntime
        do { runtime = try SluiceRuntime(config: cfg) } catch {
            log("cannot start: \(error)")
            throw ExitCode(1)
        }
        do { try runtime.start() } catch {
            log("cannot start: \(error)")
            throw ExitCode(1)
        }
        for w in runtime.warnings { log(w) }
        let server = runtime.proxy
        log("listening on \((server.boundAddresses.map(\.description) + (server.tlsBoundAddress.map { ["\($0) (tls)"] } ?? [])).joined(separator: ", ")) with \(server.group.loops.count) worker(s); admin on \(runtime.admin?.address.description ?? "-")")
        while true {
            let sig = Signals.wait([SIGTERM, SIGINT, SIGHUP])
            if sig == SIGHUP {
                do {
                    try runtime.reloadFromFile()
                    log("reloaded \(config)")
                } catch {
                    log("reload refused, running config kept:\n\(error)")
                }
                continue
            }
            log("draining (up to \(cfg.timeouts.drain) ms)")
            let clean = runtime.drainAndStop(timeout: cfg.timeouts.drain)
            log(clean ? "drained; exiting" : "drain deadline passed; closed the remaining connections")
            return
        }
    }

}

/// Loads a config or prints every problem and exits 1.
func loadOrExit(_ path: String) throws -> SluiceConfig {
    do {
        return try ConfigLoader.load(path: path)
    } catch let e as ConfigError {
        FileHandle.standardError.write(Data((e.description + "\n").utf8))
        throw ExitCode(1)
    }
}

func log(_ s: String) {
    FileHandle.standardError.write(Data("sluice: \(s)\n".utf8))
}

/// Signals handled synchronously on the main thread (sigwait), so workers
/// never run signal handlers.
enum Signals {
    static func block(_ sigs: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in sigs { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func wait(_ sigs: [Int32]) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in sigs { sigaddset(&set, s) }
        var sig: Int32 = 0
        sigwait(&set, &sig)
        return sig
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Validate a config file.")

    @Option(name: [.customShort("c"), .long], help: "Config file.")
    var config = "conf/sluice.yaml"

    func run() throws {
        let c = try loadOrExit(config)
        print("\(config): ok (\(c.routes.count) route(s), \(c.clusters.count) cluster(s))")
    }
}
