// Package servercheck lints the authorization configuration of a Temporal
// server (go.temporal.io/server v1.32, global.authorization in its YAML
// configuration, or the environment variables of its Docker image and Helm
// chart) and names each finding with its risk and fix: an open door (no
// audience in front of keys every Entra ID tenant shares, an authorizer or
// claim mapper left empty, keys fetched over plain HTTP), an outage waiting
// to happen (keys never refreshed), or a setting the server silently
// ignores (a permissionsRegex without its named groups).
package servercheck

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the part of a server's configuration that decides how it
// authorizes calls: global.authorization, with where each setting was read
// from, for the findings.
type Config struct {
	// Source names where the configuration was read from, e.g. a file name
	// or "the environment".
	Source string
	// KeySourceURIs is jwtKeyProvider.keySourceURIs.
	KeySourceURIs []string
	// RefreshInterval is jwtKeyProvider.refreshInterval; RefreshSet reports
	// whether it was given at all, RefreshRaw how it was written.
	RefreshInterval time.Duration
	RefreshSet      bool
	RefreshRaw      string
	// PermissionsClaimName is permissionsClaimName ("" means the server's
	// default, "permissions").
	PermissionsClaimName string
	// PermissionsRegex is permissionsRegex.
	PermissionsRegex string
	// Authorizer and ClaimMapper are authorizer and claimMapper: "" or
	// "default" (case-insensitive) in a stock server.
	Authorizer, ClaimMapper string
	// Audience is audience; AudienceSettable is false where the source
	// offers no way to set it (the Docker image's environment variables).
	Audience         string
	AudienceSettable bool
	// names maps a setting to how the source spells it, for findings.
	names map[string]string
}

// Setting names, as in the YAML file; Name maps them to the source's own.
const (
	SettingKeySources  = "jwtKeyProvider.keySourceURIs"
	SettingRefresh     = "jwtKeyProvider.refreshInterval"
	SettingClaimName   = "permissionsClaimName"
	SettingRegex       = "permissionsRegex"
	SettingAuthorizer  = "authorizer"
	SettingClaimMapper = "claimMapper"
	SettingAudience    = "audience"
)

// Name returns how the configuration's source spells a setting: e.g.
// "global.authorization.audience" in a YAML file, or
// "TEMPORAL_JWT_KEY_REFRESH" in the environment.
func (c *Config) Name(setting string) string {
	if n, ok := c.names[setting]; ok {
		return n
	}
	return setting
}

// authYAML mirrors global.authorization of go.temporal.io/server's
// config.Authorization; durations are read as written.
type authYAML struct {
	JWTKeyProvider struct {
		KeySourceURIs   []string  `yaml:"keySourceURIs"`
		RefreshInterval yaml.Node `yaml:"refreshInterval"`
	} `yaml:"jwtKeyProvider"`
	PermissionsClaimName string `yaml:"permissionsClaimName"`
	PermissionsRegex     string `yaml:"permissionsRegex"`
	Authorizer           string `yaml:"authorizer"`
	ClaimMapper          string `yaml:"claimMapper"`
	Audience             string `yaml:"audience"`
}

// FromYAML reads the authorization section of a server's YAML
// configuration: global.authorization, or a document whose top level is
// authorization (an excerpt); a document with neither is a server without
// authorization, all settings empty. source names the file in messages. A file
// that still holds template directives ({{ ... }}) is refused: give the
// rendered file, or check the environment with FromEnv.
func FromYAML(source string, data []byte) (*Config, error) {
	if strings.Contains(string(data), "{{") {
		return nil, fmt.Errorf("%s is a template ({{ ... }}): check the rendered configuration, or the variables it reads (check-server --env)", source)
	}
	var doc struct {
		Global struct {
			Authorization *authYAML `yaml:"authorization"`
		} `yaml:"global"`
		Authorization *authYAML `yaml:"authorization"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a Temporal server configuration: %v", source, err)
	}
	a, prefix := doc.Global.Authorization, "global.authorization."
	if a == nil {
		a, prefix = doc.Authorization, "authorization."
	}
	if a == nil {
		a, prefix = &authYAML{}, "global.authorization."
	}
	c := &Config{
		Source:               source,
		KeySourceURIs:        a.JWTKeyProvider.KeySourceURIs,
		PermissionsClaimName: a.PermissionsClaimName,
		PermissionsRegex:     a.PermissionsRegex,
		Authorizer:           a.Authorizer,
		ClaimMapper:          a.ClaimMapper,
		Audience:             a.Audience,
		AudienceSettable:     true,
		names:                map[string]string{},
	}
	for _, s := range []string{SettingKeySources, SettingRefresh, SettingClaimName, SettingRegex, SettingAuthorizer, SettingClaimMapper, SettingAudience} {
		c.names[s] = prefix + s
	}
	if n := &a.JWTKeyProvider.RefreshInterval; n.Kind != 0 && n.Tag != "!!null" {
		c.RefreshSet, c.RefreshRaw = true, n.Value
		d, err := yamlDuration(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %s%s: %v", source, prefix, SettingRefresh, err)
		}
		c.RefreshInterval = d
	}
	return c, nil
}

// yamlDuration decodes a duration as the server's YAML decoder does: a
// string such as "1m" is parsed by time.ParseDuration; a bare integer is a
// number of nanoseconds.
func yamlDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New("not a duration")
	}
	if n.Tag == "!!int" {
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", n.Value)
		}
		return time.Duration(v), nil
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 1m (%v)", n.Value, err)
	}
	return d, nil
}

// The variables the Docker image's config template (docker/config_template.yaml
// of go.temporal.io/server, also used by the Helm chart) reads for
// global.authorization, with the defaults it applies.
const (
	EnvKeySource1  = "TEMPORAL_JWT_KEY_SOURCE1"
	EnvKeySource2  = "TEMPORAL_JWT_KEY_SOURCE2"
	EnvRefresh     = "TEMPORAL_JWT_KEY_REFRESH"       // default "1m"
	EnvClaimName   = "TEMPORAL_JWT_PERMISSIONS_CLAIM" // default "permissions"
	EnvRegex       = "TEMPORAL_JWT_PERMISSIONS_REGEX"
	EnvAuthorizer  = "TEMPORAL_AUTH_AUTHORIZER"
	EnvClaimMapper = "TEMPORAL_AUTH_CLAIM_MAPPER"
)

// templateRefresh is the template's default for TEMPORAL_JWT_KEY_REFRESH.
const templateRefresh = "1m"

// FromEnv reads the configuration the Docker image's config template
// renders from the environment. The template has no variable for
// audience: AudienceSettable is false.
func FromEnv(env func(string) (string, bool)) (*Config, error) {
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	c := &Config{
		Source:               "the environment (the Docker image's config template)",
		PermissionsClaimName: get(EnvClaimName),
		PermissionsRegex:     get(EnvRegex),
		Authorizer:           get(EnvAuthorizer),
		ClaimMapper:          get(EnvClaimMapper),
		names: map[string]string{
			SettingKeySources:  EnvKeySource1 + "/" + EnvKeySource2,
			SettingRefresh:     EnvRefresh,
			SettingClaimName:   EnvClaimName,
			SettingRegex:       EnvRegex,
			SettingAuthorizer:  EnvAuthorizer,
			SettingClaimMapper: EnvClaimMapper,
			SettingAudience:    "global.authorization.audience (no variable in the Docker image's template)",
		},
	}
	for _, k := range []string{EnvKeySource1, EnvKeySource2} {
		if v := get(k); v != "" {
			c.KeySourceURIs = append(c.KeySourceURIs, v)
		}
	}
	raw := get(EnvRefresh)
	if raw == "" {
		raw = templateRefresh
	}
	// The template writes the value into the YAML unquoted: a bare
	// integer becomes nanoseconds there too.
	d, err := yamlDuration(&yaml.Node{Kind: yaml.ScalarNode, Tag: scalarTag(raw), Value: raw})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", EnvRefresh, err)
	}
	c.RefreshInterval, c.RefreshSet, c.RefreshRaw = d, true, raw
	return c, nil
}

// scalarTag returns the tag YAML resolves an unquoted scalar to, for the
// two kinds a duration can take.
func scalarTag(v string) string {
	if _, err := strconv.ParseInt(v, 0, 64); err == nil {
		return "!!int"
	}
	return "!!str"
}
