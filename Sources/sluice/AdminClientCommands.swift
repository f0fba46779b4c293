import ArgumentParser
import Foundation
import Harness
import HTTP1

/// Options every admin-client command takes (SPEC §2).
struct AdminOptions: ParsableArguments {
    @Option(help: "Admin API URL (default: $SLUICE_ADMIN or http://127.0.0.1:9901).")
    var admin: String?

    @Option(help: "Bearer token for changes (default: $SLUICE_TOKEN).")
    var token: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    var url: String { admin ?? ProcessInfo.processInfo.environment["SLUICE_ADMIN"] ?? "http://127.0.0.1:9901" }
    var bearer: String? { token ?? ProcessInfo.processInfo.environment["SLUICE_TOKEN"] }

    /// One call; throws with the server's error message on refusal.
    func call(_ method: String, _ path: String, body: String? = nil) throws -> [UInt8] {
        guard url.hasPrefix("http://") else { throw ValidationError("--admin must be an http:// URL, got \(url)") }
        let authority = url.dropFirst(7).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        var host = "127.0.0.1", port: UInt16 = 80
        if let colon = authority.lastIndex(of: ":"), let p = UInt16(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = p
        } else if !authority.isEmpty {
            host = authority
        }
        if host == "localhost" { host = "127.0.0.1" }
        let s: BlockingSocket
        do { s = try BlockingSocket(connectTo: port, host: host, timeoutSeconds: 10) } catch {
            throw CLIError("cannot reach the admin API at \(url): \(error)")
        }
        defer { s.close() }
        var req = "\(method) \(path) HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n"
        if let t = bearer { req += "Authorization: Bearer \(t)\r\n" }
        if let b = body { req += "Content-Type: application/json\r\nContent-Length: \(b.utf8.count)\r\n\r\n\(b)" } else { req += "\r\n" }
        try s.write(req)
        let (head, _, respBody) = try MessageReader(s).readResponse()
        guard (200..<300).contains(head.status) else {
            var message = String(decoding: respBody, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if let obj = try? JSONSerialization.jsonObject(with: Data(respBody)) as? [String: Any], let e = obj["error"] as? String {
                message = e + ((obj["detail"] as? String).map { ": \($0)" } ?? "")
            }
            throw CLIError("admin API refused (\(head.status)): \(message)")
        }
        return respBody
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs a command body; a refusal prints the server's message and exits 1.
func adminCommand(_ body: () throws -> Void) throws {
    do { try body() } catch let e as CLIError {
        FileHandle.standardError.write(Data("sluice: \(e.description)\n".utf8))
        throw ExitCode(1)
    }
}

func routesTable(_ routes: [[String: Any]]) -> String {
    var lines = ["ROUTE            ACTIVE           PREVIEW          WEIGHTS (active/preview)"]
    for r in routes {
        let w = r["weights"] as? [String: Int] ?? [:]
        let pad = { (s: String, n: Int) in s + String(repeating: " ", count: max(1, n - s.count)) }
        lines.append(pad(r["name"] as? String ?? "?", 17) + pad(r["active"] as? String ?? "?", 17)
                     + pad((r["preview"] as? String) ?? "-", 17) + "\(w["active"] ?? 0)/\(w["preview"] ?? 0)")
    }
    return lines.joined(separator: "\n")
}

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "weights", abstract: "Show or set a route's weights.")
    @Argument(help: "Route name (all routes when omitted).") var route: String?
    @Option(help: "Active weight (with --preview).") var active: UInt32?
    @Option(help: "Preview weight (with --active).") var preview: UInt32?
    @OptionGroup var options: AdminOptions

    func run() throws {
        try adminCommand {
            if active != nil || preview != nil {
                guard let r = route, let a = active, let p = preview else {
                    throw ValidationError("setting weights needs ROUTE, --active and --preview")
                }
                let body = try options.call("PUT", "/routes/\(r)/weights", body: "{\"active\":\(a),\"preview\":\(p)}")
                try printRoutes(body, single: true)
            } else if let r = route {
                try printRoutes(try options.call("GET", "/routes/\(r)"), single: true)
            } else {
                try printRoutes(try options.call("GET", "/routes"), single: false)
            }
        }
    }

    private func printRoutes(_ body: [UInt8], single: Bool) throws {
        if options.json { print(String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)); return }
        let obj = try JSONSerialization.jsonObject(with: Data(body))
        let routes = single ? [obj as? [String: Any] ?? [:]] : (obj as? [[String: Any]] ?? [])
        print(routesTable(routes))
    }
}

/// POST /routes/ROUTE/promote|rollback and print the route.
func shiftRoute(_ route: String, _ action: String, _ options: AdminOptions) throws {
    try adminCommand {
        let body = try options.call("POST", "/routes/\(route)/\(action)")
        if options.json { print(String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        else { print(routesTable([(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]])) }
    }
}

struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "promote", abstract: "Send all of a route's traffic to its preview.")
    @Argument(help: "Route name.") var route: String
    @OptionGroup var options: AdminOptions
    func run() throws { try shiftRoute(route, "promote", options) }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Send all of a route's traffic back to its active backend.")
    @Argument(help: "Route name.") var route: String
    @OptionGroup var options: AdminOptions
    func run() throws { try shiftRoute(route, "rollback", options) }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Routes, weights, requests/s, error % and latency per backend.")
    @Option(help: "Seconds between the two samples used for requests/s.") var interval: Double = 1
    @OptionGroup var options: AdminOptions

    func run() throws {
        try adminCommand {
            let first = try stats()
            Thread.sleep(forTimeInterval: max(0.1, interval))
            let second = try stats()
            var rows: [[String: Any]] = []
            for s in second {
                let key = "\(s["route"] as? String ?? "")|\(s["backend"] as? String ?? "")"
                let before = first.first { "\($0["route"] as? String ?? "")|\($0["backend"] as? String ?? "")" == key }
                let n2 = s["requests"] as? Int ?? 0, n1 = before?["requests"] as? Int ?? 0
                let resp = s["responses"] as? [String: Int] ?? [:]
                let errors = (resp["5xx"] ?? 0)
                let lat = s["latency_ms"] as? [String: Any] ?? [:]
                rows.append(["route": s["route"] ?? "-", "backend": s["backend"] ?? "-", "weight": s["weight"] ?? NSNull(),
                             "requests_per_s": Double(n2 - n1) / max(0.1, interval),
                             "error_pct": n2 > 0 ? 100.0 * Double(errors) / Double(n2) : 0.0,
                             "p50_ms": lat["p50"] ?? NSNull(), "p99_ms": lat["p99"] ?? NSNull(), "requests": n2])
            }
            if options.json {
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let pad = { (s: String, n: Int) in s + String(repeating: " ", count: max(1, n - s.count)) }
            print(pad("ROUTE", 14) + pad("BACKEND", 9) + pad("WEIGHT", 8) + pad("REQ/S", 9) + pad("ERR %", 8) + pad("P50 MS", 9) + "P99 MS")
            for r in rows {
                func num(_ v: Any?) -> String { (v as? Double).map { String(format: "%.2f", $0) } ?? "-" }
                print(pad(r["route"] as? String ?? "-", 14) + pad(r["backend"] as? String ?? "-", 9)
                      + pad((r["weight"] as? Int).map(String.init) ?? "-", 8) + pad(String(format: "%.1f", r["requests_per_s"] as? Double ?? 0), 9)
                      + pad(String(format: "%.2f", r["error_pct"] as? Double ?? 0), 8) + pad(num(r["p50_ms"]), 9) + num(r["p99_ms"]))
            }
        }
    }

    private func stats() throws -> [[String: Any]] {
        let body = try options.call("GET", "/stats")
        let obj = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return obj?["stats"] as? [[String: Any]] ?? []
    }
}
