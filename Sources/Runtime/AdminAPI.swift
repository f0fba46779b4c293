import Admin
import Config
import Foundation
import Proxy
import Routing
import SluiceCore
import Telemetry

/// The admin API's resources (SPEC §6) over the running snapshot: routes,
/// weights, promote/rollback, config, reload. Runs on the admin thread.
/// Every refusal changes nothing.
extension SluiceRuntime {
    func handleAdmin(_ req: AdminRequest) -> AdminResponse? {
        let parts = req.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch parts.count {
        case 1 where parts[0] == "routes":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            let snap = proxy.store.load()
            return .json(200, "[" + snap.table.routes.map(routeJSON).joined(separator: ",") + "]\n")
        case 2 where parts[0] == "routes":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            let snap = proxy.store.load()
            guard let r = snap.table.routes.first(where: { $0.name == parts[1] }) else { return .error(404, "unknown_route") }
            return .json(200, routeJSON(r) + "\n")
        case 3 where parts[0] == "routes" && parts[2] == "weights":
            guard req.method == "PUT" else { return .error(405, "method_not_allowed") }
            return setWeights(route: parts[1]) { _ in try self.parseWeights(req.body) }
        case 3 where parts[0] == "routes" && (parts[2] == "promote" || parts[2] == "rollback"):
            guard req.method == "POST" else { return .error(405, "method_not_allowed") }
            let promote = parts[2] == "promote"
            return setWeights(route: parts[1]) { _ in promote ? Weights(active: 0, preview: 100)! : Weights(active: 100, preview: 0)! }
        case 1 where parts[0] == "config":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            return .json(200, ConfigJSON.render(proxy.store.load().config))
        case 1 where parts[0] == "reload":
            guard req.method == "POST" else { return .error(405, "method_not_allowed") }
            do {
                try reloadFromFile()
                return .json(200, "{\"reloaded\":true}\n")
            } catch {
                return .json(400, "{\"error\":\"invalid_config\",\"detail\":\(StatsJSON.json("\(error)"))}\n")
            }
        default:
            return nil
        }
    }

    /// Applies new weights to one route atomically (a new snapshot for
    /// every worker), persists them when a state file is configured, then
    /// answers with the route.
    func setWeights(route name: String, _ make: (Route) throws -> Weights) -> AdminResponse {
        do {
            let snap = try proxy.store.update { cur, gen in
                guard let i = cur.table.index(named: name) else { throw AdminRefusal(404, "unknown_route") }
                let r = cur.table.routes[i]
                guard r.previewCluster != nil else { throw AdminRefusal(400, "route_has_no_preview") }
                let w = try make(r)
                let next = cur.with(route: i, weights: w, generation: gen)
                // Persist before the change is acknowledged (and before it is
                // published): a failed write refuses the change.
                try persistWeights(next)
                return next
            }
            return .json(200, routeJSON(snap.table.routes[snap.table.index(named: name)!]) + "\n")
        } catch let r as AdminRefusal {
            return .json(r.status, "{\"error\":\"\(r.reason)\"\(r.detail.map { ",\"detail\":\(StatsJSON.json($0))" } ?? "")}\n")
        } catch {
            return .json(500, "{\"error\":\"state_write_failed\",\"detail\":\(StatsJSON.json("\(error)"))}\n")
        }
    }

    /// `{"active":N,"preview":N}`, both required, nothing else.
    func parseWeights(_ body: [UInt8]) throws -> Weights {
        let fields: [(String, UInt64)]
        do { fields = try StrictJSON.integerObject(body) } catch {
            throw AdminRefusal(400, "bad_weights", "\(error)")
        }
        var a: UInt32?, p: UInt32?
        for (k, v) in fields {
            switch k {
            case "active": a = UInt32(v)
            case "preview": p = UInt32(v)
            default: throw AdminRefusal(400, "bad_weights", "unknown field \"\(k)\"")
            }
        }
        guard let av = a, let pv = p else { throw AdminRefusal(400, "bad_weights", "both \"active\" and \"preview\" are required") }
        guard let w = Weights(active: av, preview: pv) else { throw AdminRefusal(400, "bad_weights", "weights must not both be zero") }
        return w
    }

    func routeJSON(_ r: Route) -> String {
        let snap = proxy.store.load()
        let preview = r.previewCluster.map { StatsJSON.json(snap.clusters[$0].name) } ?? "null"
        return "{\"name\":\(StatsJSON.json(r.name)),\"prefix\":\(StatsJSON.json(String(decoding: r.prefix, as: UTF8.self))),"
            + "\"active\":\(StatsJSON.json(snap.clusters[r.activeCluster].name)),\"preview\":\(preview),"
            + "\"weights\":{\"active\":\(r.weights.active),\"preview\":\(r.weights.preview)}}"
    }
}

/// A refusal with its status and reason (and an optional detail).
struct AdminRefusal: Error {
    let status: Int
    let reason: String
    let detail: String?
    init(_ status: Int, _ reason: String, _ detail: String? = nil) {
        self.status = status
        self.reason = reason
        self.detail = detail
    }
}
