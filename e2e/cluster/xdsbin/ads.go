package main

// An ADS (state of the world) client: it subscribes like an Envoy sidecar or gateway would — every listener and
// cluster, then the routes the listeners name and the endpoints of the EDS clusters — ACKs every push, and serves
// the latest resources as JSON so a test asserts on what istiod actually pushed.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"slices"
	"sync"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	// Decoded in full in the JSON: the RBAC filter and TLS contexts the tests assert on.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

const (
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// push is one response istiod sent, as the test sees it.
type push struct {
	Type    string   `json:"type"`
	AtMs    int64    `json:"atMs"`
	Version string   `json:"version"`
	Names   []string `json:"names"`
}

type adsState struct {
	mu        sync.Mutex
	resources map[string]map[string]json.RawMessage // type → name → JSON
	names     map[string][]string                   // type → names subscribed (nil = wildcard)
	pushes    []push
	errors    []string
}

func runADS(args []string) error {
	fs := flag.NewFlagSet("ads", flag.ExitOnError)
	var node nodeFlags
	node.register(fs)
	listen := fs.String("listen", "127.0.0.1:0", "address of the JSON state endpoint")
	_ = fs.Parse(args)
	if node.xds == "" {
		return fmt.Errorf("--xds is required")
	}
	st := &adsState{resources: map[string]map[string]json.RawMessage{}, names: map[string][]string{}}
	go func() {
		for {
			err := st.run(&node)
			st.note(fmt.Sprintf("stream ended: %v", err))
			time.Sleep(200 * time.Millisecond)
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/state", func(w http.ResponseWriter, _ *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		writeJSON(w, map[string]any{
			"nodeId":    node.id(),
			"listeners": st.resources[typeListener],
			"routes":    st.resources[typeRoute],
			"clusters":  st.resources[typeCluster],
			"endpoints": st.resources[typeEndpoint],
			"pushes":    st.pushes,
			"errors":    st.errors,
		})
	})
	return serveControl(*listen, mux)
}

func (s *adsState) note(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errors) < 100 {
		s.errors = append(s.errors, msg)
	}
	log.Print(msg)
}

// run holds one ADS stream until it fails.
func (s *adsState) run(node *nodeFlags) error {
	conn, err := grpc.NewClient(node.xds, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	md, err := structpb.NewStruct(node.metadata(""))
	if err != nil {
		return err
	}
	n := &core.Node{Id: node.id(), Cluster: node.pod + "." + node.namespace, Metadata: md}
	send := func(typeURL string, names []string, version, nonce string) error {
		return stream.Send(&discovery.DiscoveryRequest{
			Node: n, TypeUrl: typeURL, ResourceNames: names, VersionInfo: version, ResponseNonce: nonce,
		})
	}
	// Envoy's order: clusters, then listeners; routes and endpoints follow from what those name.
	for _, t := range []string{typeCluster, typeListener} {
		if err := send(t, nil, "", ""); err != nil {
			return err
		}
	}
	acked := map[string][2]string{} // type → last (version, nonce), for a re-subscription
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		decoded := map[string]json.RawMessage{}
		var follow []string
		for _, r := range resp.GetResources() {
			name, raw, more, err := decode(resp.GetTypeUrl(), r)
			if err != nil {
				s.note(fmt.Sprintf("decode %s: %v", resp.GetTypeUrl(), err))
				continue
			}
			decoded[name] = raw
			follow = append(follow, more...)
		}
		s.mu.Lock()
		s.resources[resp.GetTypeUrl()] = decoded
		s.pushes = append(s.pushes, push{
			Type: resp.GetTypeUrl(), AtMs: time.Now().UnixMilli(), Version: resp.GetVersionInfo(),
			Names: sortedKeys(decoded),
		})
		subscribed := s.names[resp.GetTypeUrl()]
		s.mu.Unlock()
		acked[resp.GetTypeUrl()] = [2]string{resp.GetVersionInfo(), resp.GetNonce()}
		if err := send(resp.GetTypeUrl(), subscribed, resp.GetVersionInfo(), resp.GetNonce()); err != nil {
			return err
		}
		// Listeners name routes, clusters name endpoints: (re)subscribe when the set changed.
		next := map[string]string{typeListener: typeRoute, typeCluster: typeEndpoint}[resp.GetTypeUrl()]
		if next == "" {
			continue
		}
		slices.Sort(follow)
		follow = slices.Compact(follow)
		s.mu.Lock()
		changed := !slices.Equal(s.names[next], follow)
		s.names[next] = follow
		s.mu.Unlock()
		if changed && len(follow) > 0 {
			last := acked[next]
			if err := send(next, follow, last[0], last[1]); err != nil {
				return err
			}
		}
	}
}

// decode turns one resource into (name, JSON, the route or endpoint names it refers to).
func decode(typeURL string, r *anypb.Any) (string, json.RawMessage, []string, error) {
	var msg proto.Message
	switch typeURL {
	case typeListener:
		msg = &listener.Listener{}
	case typeRoute:
		msg = &route.RouteConfiguration{}
	case typeCluster:
		msg = &cluster.Cluster{}
	case typeEndpoint:
		msg = &endpoint.ClusterLoadAssignment{}
	default:
		return "", nil, nil, fmt.Errorf("unexpected type")
	}
	if err := r.UnmarshalTo(msg); err != nil {
		return "", nil, nil, err
	}
	raw, err := protojson.MarshalOptions{Resolver: lenient{}}.Marshal(msg)
	if err != nil {
		return "", nil, nil, err
	}
	var refs []string
	var name string
	switch m := msg.(type) {
	case *listener.Listener:
		name = m.GetName()
		refs = routeNamesOf(m)
	case *route.RouteConfiguration:
		name = m.GetName()
	case *cluster.Cluster:
		name = m.GetName()
		if m.GetType() == cluster.Cluster_EDS {
			svc := m.GetEdsClusterConfig().GetServiceName()
			if svc == "" {
				svc = name
			}
			refs = []string{svc}
		}
	case *endpoint.ClusterLoadAssignment:
		name = m.GetClusterName()
	}
	return name, raw, refs, nil
}

// routeNamesOf lists the RDS names the listener's HTTP connection managers (or its API listener) use.
func routeNamesOf(l *listener.Listener) []string {
	var out []string
	add := func(a *anypb.Any) {
		var m hcm.HttpConnectionManager
		if a == nil || a.UnmarshalTo(&m) != nil {
			return
		}
		if rds := m.GetRds(); rds != nil {
			out = append(out, rds.GetRouteConfigName())
		}
	}
	add(l.GetApiListener().GetApiListener())
	for _, fc := range append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain()) {
		for _, f := range fc.GetFilters() {
			add(f.GetTypedConfig())
		}
	}
	return out
}

// lenient resolves every Any istiod may send: types this binary does not link (Istio's own filters, Wasm) decode as
// an empty message, so the JSON still names them by "@type".
type lenient struct{}

func (lenient) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (lenient) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := protoregistry.GlobalTypes.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return (&emptypb.Empty{}).ProtoReflect().Type(), nil
}

func (lenient) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (lenient) FindExtensionByNumber(m protoreflect.FullName, f protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, f)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
