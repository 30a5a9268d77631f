// Package devserver runs an embedded Temporal server that enforces JWT
// authorization, for end-to-end tests and runnable examples.
//
// The server is the real go.temporal.io/server (v1.32.1) with SQLite kept in
// memory, one history shard, and every listener bound to 127.0.0.1 on ports
// chosen at start. Its frontend uses the server's own default authorizer and
// default JWT claim mapper, so it accepts exactly what a production Temporal
// cluster configured with `authorizer: default` and `claimMapper: default`
// accepts: `authorization: Bearer <JWT>` headers signed with an RS256 or ES256
// key published in the configured JWKS, carrying `sub`, a `kid` header and a
// permissions claim of "<namespace>:<role>" strings.
//
// # System workers
//
// The server's own worker service (scanner, archiver, scheduler, ...) dials
// the frontend without any token; against a JWT-protected frontend it would
// be refused and the server would exit the process. This package therefore
// also runs an "internal-frontend" service, as Temporal recommends for
// clusters that use an authorizer and a claim mapper: the system workers reach
// the cluster through it (found via membership), and it trusts its callers as
// system admins. The internal frontend listens on its own 127.0.0.1 port that
// is not reported by [Server.HostPort]; anyone on this machine who finds that
// port can call it unauthenticated. That is acceptable for a test server and
// is the reason this package must never be used to serve anything real.
//
// # Ports
//
// Every service listens on 127.0.0.1: five gRPC ports (frontend, internal
// frontend, history, matching, worker), five membership ports and two HTTP
// ports (the public frontend's HTTP API, which enforces the same JWT rules,
// and the internal frontend's, which the server uses for Nexus callbacks).
// Only the public frontend's gRPC address is reported, by [Server.HostPort].
// Ports are picked free just before the server binds them, so a process that
// grabs one in between makes Start fail; several servers can run in one
// process.
//
// # Key refresh
//
// The claim mapper's key provider fetches the JWKS once, synchronously, inside
// [Start] (the JWKS endpoint must already be serving), and then every
// [Config.RefreshInterval]. The Temporal server never stops that refresh
// goroutine; [Server.Stop] stops it itself. [Config.KeyProvider] replaces
// that provider with the caller's own, for instance a serverauth.KeyProvider
// that refetches the JWKS when a token names an unknown key.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	// DefaultRefreshInterval is the JWKS refresh interval used when
	// Config.RefreshInterval is zero.
	DefaultRefreshInterval = time.Minute
	// DefaultPermissionsClaimName is the permissions claim used when
	// Config.PermissionsClaimName is empty.
	DefaultPermissionsClaimName = "permissions"
	// DefaultNamespace is the namespace registered when Config.Namespaces is
	// empty.
	DefaultNamespace = "default"
	// NamespaceRetention is the workflow execution retention period of the
	// namespaces that Start registers.
	NamespaceRetention = 24 * time.Hour

	// defaultPersistenceMaxQPS is the server's frontend.persistenceMaxQPS
	// default (v1.32.1).
	defaultPersistenceMaxQPS = 2000

	host               = "127.0.0.1"
	clusterName        = "active"
	namespaceReadyWait = 15 * time.Second
)

// Config says how to run the server. Zero values get documented defaults.
type Config struct {
	// JWKSURLs are the key sources (keySourceURIs) the default claim mapper
	// reads. Required unless KeyProvider is set. http(s):// or file://. They
	// are read once inside Start, so an HTTP source must already be serving.
	JWKSURLs []string
	// KeyProvider, when set, replaces the server's own key provider
	// (authorization.NewDefaultTokenKeyProvider) in the default JWT claim
	// mapper; JWKSURLs and RefreshInterval are then not used. A provider
	// that also implements authorization.RawTokenKeyProvider, such as a
	// serverauth.KeyProvider, is given each parsed token. The caller owns
	// it: Stop does not close it.
	KeyProvider authorization.TokenKeyProvider
	// RefreshInterval is how often the server refetches the JWKS (default
	// DefaultRefreshInterval, one minute; negative disables refresh). A token
	// signed with a key the server has not fetched yet is refused until the
	// next refresh.
	RefreshInterval time.Duration
	// PermissionsClaimName is the claim holding "<namespace>:<role>"
	// permissions (default "permissions"; Azure AD uses "roles").
	PermissionsClaimName string
	// Audience, when set, makes the server reject tokens whose aud does not
	// contain it (via temporal.WithAudienceGetter). When empty, aud is not
	// checked.
	Audience string
	// Namespaces to register at start (default: "default"), using
	// SystemHeaders for authorization. Start returns once each of them can be
	// described.
	Namespaces []string
	// SystemHeaders supplies headers with a temporal-system:admin token; used
	// to register namespaces. Required when Namespaces is non-empty (including
	// the default).
	SystemHeaders interface {
		GetHeaders(context.Context) (map[string]string, error)
	}
	// MaxRPS, when positive, replaces the frontend's request rate limit,
	// overall and per namespace (the server's default: 2400 per second).
	// When it is above 2000 it also raises the frontend's limit on the
	// database queries that requests cause (default 2000 per second).
	// Benchmarks that drive the frontend harder than that set it, so that
	// they measure the server rather than its rate limiters.
	MaxRPS int
	// Logger for the server; default discards everything below warn and
	// writes the rest to stderr, one line each without stack traces, until
	// Stop begins (then it is silent). The server logs every token it
	// rejects at error level with the reason (expired, unknown kid, bad
	// signature, audience mismatch, ...); calls refused for a missing token
	// or an insufficient role are not logged.
	Logger log.Logger
}

// headersProvider is the SDK's (unexported) client.Options.HeadersProvider
// interface.
type headersProvider = interface {
	GetHeaders(context.Context) (map[string]string, error)
}

// Server is a running embedded Temporal server. Create it with Start and
// release it with Stop.
type Server struct {
	server      temporal.Server
	hostPort    string
	keyProvider interface{ Close() } // nil when refresh is disabled

	stopping atomic.Bool // set when Stop begins; silences the default logger
	stopOnce sync.Once
	stopErr  error
}

// Start builds and starts the server, then registers cfg.Namespaces and waits
// until they can be described (at most 15 s). It returns when the frontend at
// HostPort accepts calls. On error Start stops whatever it had started.
func Start(cfg Config) (*Server, error) {
	if len(cfg.JWKSURLs) == 0 && cfg.KeyProvider == nil {
		return nil, errors.New("devserver: Config.JWKSURLs or Config.KeyProvider is required")
	}
	namespaces := cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{DefaultNamespace}
	}
	if cfg.SystemHeaders == nil {
		return nil, errors.New("devserver: Config.SystemHeaders is required to register namespaces")
	}
	refresh := cfg.RefreshInterval
	switch {
	case refresh == 0:
		refresh = DefaultRefreshInterval
	case refresh < 0:
		refresh = 0 // the key provider's "no refresh"
	}
	claimName := cfg.PermissionsClaimName
	if claimName == "" {
		claimName = DefaultPermissionsClaimName
	}
	s := &Server{}
	logger := cfg.Logger
	if logger == nil {
		logger = quietLogger(&s.stopping)
	}

	ports, err := freePorts(12)
	if err != nil {
		return nil, fmt.Errorf("devserver: choosing ports: %w", err)
	}
	frontendPort := ports[0]
	hostPort := net.JoinHostPort(host, strconv.Itoa(frontendPort))
	service := func(grpcPort, membershipPort, httpPort int) config.Service {
		return config.Service{RPC: config.RPC{
			GRPCPort:       grpcPort,
			MembershipPort: membershipPort,
			BindOnIP:       host,
			HTTPPort:       httpPort,
		}}
	}

	conf := &config.Config{}
	conf.Global.Membership = config.Membership{
		MaxJoinDuration:  30 * time.Second,
		BroadcastAddress: host,
	}
	conf.Global.Authorization = config.Authorization{
		JWTKeyProvider: config.JWTKeyProvider{
			KeySourceURIs:   append([]string(nil), cfg.JWKSURLs...),
			RefreshInterval: refresh,
		},
		PermissionsClaimName: claimName,
		Authorizer:           "default",
		ClaimMapper:          "default",
		Audience:             cfg.Audience, // informational: the audience getter below enforces it
	}
	conf.Persistence = config.Persistence{
		DefaultStore:     "sqlite-default",
		VisibilityStore:  "sqlite-default",
		NumHistoryShards: 1,
		DataStores: map[string]config.DataStore{
			"sqlite-default": {SQL: &config.SQL{
				PluginName:        sqliteplugin.PluginName,
				DatabaseName:      "devserver-" + strconv.FormatUint(rand.Uint64(), 36),
				ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
			}},
		},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             hostPort,
				ClusterID:              uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService):         service(frontendPort, ports[1], ports[11]),
		string(primitives.InternalFrontendService): service(ports[2], ports[3], ports[10]),
		string(primitives.HistoryService):          service(ports[4], ports[5], 0),
		string(primitives.MatchingService):         service(ports[6], ports[7], 0),
		string(primitives.WorkerService):           service(ports[8], ports[9], 0),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// PublicClient stays empty: with an internal-frontend service the system
	// workers find it through membership (and the server refuses a
	// PublicClient.HostPort).

	s.hostPort = hostPort
	opts := []temporal.ServerOption{
		// WithConfig must come first: the options below read the config eagerly.
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.Services),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorization.NewDefaultAuthorizer()),
		temporal.WithClaimMapper(func(c *config.Config) authorization.ClaimMapper {
			if cfg.KeyProvider != nil {
				return authorization.NewDefaultJWTClaimMapper(cfg.KeyProvider, &c.Global.Authorization, logger)
			}
			kp := authorization.NewDefaultTokenKeyProvider(&c.Global.Authorization, logger)
			if c.Global.Authorization.JWTKeyProvider.RefreshInterval > 0 {
				s.keyProvider = kp
			}
			return authorization.NewDefaultJWTClaimMapper(kp, &c.Global.Authorization, logger)
		}),
	}
	if cfg.MaxRPS > 0 {
		dc := dynamicconfig.NewMemoryClient()
		dc.OverrideSetting(dynamicconfig.FrontendRPS, cfg.MaxRPS)
		dc.OverrideSetting(dynamicconfig.FrontendMaxNamespaceRPSPerInstance, cfg.MaxRPS)
		if cfg.MaxRPS > defaultPersistenceMaxQPS {
			// Only ever raised: the server's own membership heartbeats use
			// this budget too, and the server exits when they are refused.
			dc.OverrideSetting(dynamicconfig.FrontendPersistenceMaxQPS, cfg.MaxRPS)
			dc.OverrideSetting(dynamicconfig.FrontendPersistenceNamespaceMaxQPS, cfg.MaxRPS)
		}
		opts = append(opts, temporal.WithDynamicConfigClient(dc))
	}
	if cfg.Audience != "" {
		opts = append(opts, temporal.WithAudienceGetter(func(*config.Config) authorization.JWTAudienceMapper {
			return authorization.NewAudienceMapper(cfg.Audience)
		}))
	}

	srv, err := temporal.NewServer(opts...)
	if err != nil {
		s.closeKeyProvider()
		return nil, fmt.Errorf("devserver: creating server: %w", err)
	}
	s.server = srv
	if err := srv.Start(); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("devserver: starting server: %w", err)
	}
	if err := s.registerNamespaces(cfg.SystemHeaders, namespaces); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("devserver: %w", err)
	}
	return s, nil
}

// HostPort returns the frontend gRPC address, "127.0.0.1:<port>", for
// client.Options.HostPort.
func (s *Server) HostPort() string { return s.hostPort }

// Stop stops all services and the JWKS refresh goroutine. It waits for the
// services to stop (about a second) and is safe to call more than once; later
// calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		if s.server != nil {
			s.stopErr = s.server.Stop()
		}
		s.closeKeyProvider()
	})
	return s.stopErr
}

func (s *Server) closeKeyProvider() {
	if s.keyProvider != nil {
		s.keyProvider.Close()
		s.keyProvider = nil
	}
}

// registerNamespaces registers each namespace through the public (JWT
// enforcing) frontend with the system headers, then waits until it can be
// described.
func (s *Server) registerNamespaces(headers headersProvider, namespaces []string) error {
	nc, err := client.NewNamespaceClient(client.Options{
		HostPort:        s.hostPort,
		HeadersProvider: headers,
		Logger:          sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return fmt.Errorf("connecting namespace client: %w", err)
	}
	defer nc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), namespaceReadyWait)
	defer cancel()
	for _, ns := range namespaces {
		err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			WorkflowExecutionRetentionPeriod: durationpb.New(NamespaceRetention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("registering namespace %q: %w", ns, err)
		}
	}
	for _, ns := range namespaces {
		for {
			_, err := nc.Describe(ctx, ns)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("namespace %q not ready: %w", ns, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// quietLogger logs warnings and errors to stderr, one line each, without
// stack traces. Once stopping is set it drops everything below DPanic: a
// stopping server logs dozens of harmless errors (services losing their
// peers, system workers losing their connection).
func quietLogger(stopping *atomic.Bool) log.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enabled := zap.LevelEnablerFunc(func(l zapcore.Level) bool {
		return l >= zapcore.DPanicLevel || (l >= zapcore.WarnLevel && !stopping.Load())
	})
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), enabled)
	return log.NewZapLogger(zap.New(core))
}

// freePorts returns n distinct TCP ports that are free on 127.0.0.1. All n
// listeners are held open together so the ports differ; each is then left in
// TIME_WAIT (the accepting side closes first) so that the kernel does not hand
// it out again for port 0 while the server, which sets SO_REUSEADDR, can still
// bind it.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		reserve(l)
	}
	return ports, nil
}

// reserve makes one connection to l and closes it from the accepting side,
// which puts the port in TIME_WAIT. Failures are ignored: the port is still
// usable, just not protected against reuse.
func reserve(l net.Listener) {
	c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		return
	}
	_ = a.Close()
	// Read until the accepting side's close reaches us, so that side
	// finishes the close first.
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	var b [1]byte
	_, _ = c.Read(b[:])
}
