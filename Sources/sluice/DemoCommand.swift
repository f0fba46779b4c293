import ArgumentParser
import Config
import EventLoop
import Foundation
import Harness
import HTTP1
import Proxy
import Routing
import SluiceCore

/// `sluice demo`: two built-in model backends behind a 90/10 split, a few
/// hundred requests, and what the split and latency looked like.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Run a self-contained canary demo.")

    @Option(help: "Port for the demo proxy (0 picks a free one).")
    var port: UInt16 = 8080

    @Option(help: "Requests to send.")
    var requests = 400

    @Option(help: "Client connections (keep-alive).")
    var concurrency = 4

    @Option(help: "Preview weight in percent.")
    var preview: UInt32 = 10

    func run() throws {
        guard preview <= 100 else { throw ValidationError("--preview is a percentage (0...100)") }
        guard requests > 0, concurrency > 0 else { throw ValidationError("--requests and --concurrency must be positive") }
        let v1 = try ScriptedBackend(modelServer(version: "v1", millis: 2))
        let v2 = try ScriptedBackend(modelServer(version: "v2", millis: 4))
        defer { v1.stop(); v2.stop() }

        var cfg = SluiceConfig()
        cfg.listen = ["127.0.0.1:\(port)"]
        cfg.workers = 1
        cfg.clusters = [ClusterConfig(name: "model-v1", endpoints: [v1.address]),
                        ClusterConfig(name: "model-v2", endpoints: [v2.address])]
        cfg.routes = [RouteConfig(name: "predict", prefix: "/v1/models/", active: "model-v1", preview: "model-v2",
                                  weights: Weights(active: 100 - preview, preview: preview)!)]
        let server: ProxyServer
        do { server = try ProxyServer(config: cfg) } catch {
            throw ValidationError("cannot listen on 127.0.0.1:\(port): \(error) (try --port 0)")
        }
        server.start()
        defer { server.stop() }
        let addr = server.boundAddresses[0]
        print("sluice demo: proxy on \(addr), active model-v1 at \(v1.address), preview model-v2 at \(v2.address), split \(100 - preview)/\(preview)")
        print("sending \(requests) POST /v1/models/sentiment:predict over \(concurrency) keep-alive connection(s)...\n")

        let results = Locked<[(String, Double, String)]>([])
        let errors = Locked<[String]>([])
        let per = (requests + concurrency - 1) / concurrency
        let threads = (0..<concurrency).map { t in
            WorkerThread(name: "demo-client") {
                do {
                    let s = try BlockingSocket(connectTo: addr.port)
                    let reader = MessageReader(s)
                    for k in 0..<per where t * per + k < requests {
                        let body = "{\"text\":\"request \(t * per + k) from the demo\"}"
                        let req = "POST /v1/models/sentiment:predict HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        try s.write(req)
                        let (head, bytes, respBody) = try reader.readResponse(method: .post)
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                        let backend = headerValue(head.h, bytes, "x-sluice-backend") ?? "?"
                        let text = String(decoding: respBody, as: UTF8.self)
                        let version = text.contains("\"version\":\"v2\"") ? "v2" : (text.contains("\"version\":\"v1\"") ? "v1" : "?")
                        results.withLock { $0.append((backend, ms, version)) }
                    }
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
        }
        for t in threads { t.join() }
        let all = results.withLock { $0 }
        print("backend   model  requests   share     p50 ms    p99 ms")
        for b in ["active", "preview"] {
            let rows = all.filter { $0.0 == b }
            let lat = rows.map(\.1).sorted()
            let p50 = lat.isEmpty ? 0 : lat[min(lat.count - 1, lat.count / 2)]
            let p99 = lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(Double(lat.count) * 0.99))]
            let version = Set(rows.map(\.2)).sorted().joined(separator: ",")
            let pad = { (s: String, n: Int) in s + String(repeating: " ", count: max(0, n - s.count)) }
            print(pad(b, 10) + pad(version, 7) + String(format: "%8d  %5.1f %%  %8.2f  %8.2f", rows.count,
                         all.isEmpty ? 0 : 100.0 * Double(rows.count) / Double(all.count), p50, p99))
        }
        let errs = errors.withLock { $0 }
        if !errs.isEmpty {
            print("\n\(errs.count) client error(s): \(errs.first!)")
            throw ExitCode(1)
        }
        print("\n\(all.count) responses; every one carried x-sluice-backend. Change --preview to move the split.")
    }

    /// A tiny model server: answers a JSON prediction naming its version
    /// after a simulated inference time.
    private func modelServer(version: String, millis: Int) -> ScriptedBackend.Handler {
        return { req, res in
            usleep(useconds_t(millis * 1000))
            let score = Double(req.body.count % 100) / 100.0
            res.respond(json: "{\"model\":\"sentiment\",\"version\":\"\(version)\",\"prediction\":{\"label\":\"positive\",\"score\":\(score)}}")
        }
    }
}
