package readme

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml3 "gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestManifests checks every yaml block of README.md and
// TROUBLESHOOTING.md without a cluster, as README.md's "Deploy on
// Kubernetes" section promises: each document parses; a Kubernetes object
// (one with apiVersion and kind) decodes strictly into its k8s.io/api
// type, so an unknown or misspelt field fails; every environment variable a
// container sets is documented; a Secret volume has a defaultMode of at
// most 0440 and is never mounted with subPath (which would hide a rotated
// credential from the pod); a pod labelled for Azure workload identity runs
// as a service account, in the same block, annotated with a client ID.
func TestManifests(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var docs strings.Builder
	var blocks []Block
	for _, name := range []string{"README.md", "TROUBLESHOOTING.md"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(data)
		blocks = append(blocks, Parse(name, string(data))...)
	}
	deployments := 0
	for _, b := range blocks {
		if b.Lang != "yaml" && b.Lang != "yml" {
			continue
		}
		objects, err := decodeManifests(b.Text)
		if err != nil {
			t.Errorf("%s:%d (%s): %v", b.File, b.Line, b.Section, err)
			continue
		}
		for _, err := range checkManifests(objects, docs.String()) {
			t.Errorf("%s:%d (%s): %v", b.File, b.Line, b.Section, err)
		}
		for _, o := range objects {
			if _, ok := o.(*appsv1.Deployment); ok {
				deployments++
			}
		}
	}
	if deployments < 4 {
		t.Errorf("%d Deployments in the docs, want the four of Deploy on Kubernetes", deployments)
	}
}

// TestManifestChecks: each rule of TestManifests catches what it is for.
func TestManifestChecks(t *testing.T) {
	const good = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: w
  annotations:
    azure.workload.identity/client-id: 11111111-2222-3333-4444-555555555555
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: w
spec:
  selector:
    matchLabels: {app: w}
  template:
    metadata:
      labels: {app: w, azure.workload.identity/use: "true"}
    spec:
      serviceAccountName: w
      containers:
        - name: w
          image: w
          env:
            - {name: TEMPORAL_ADDRESS, value: x}
          volumeMounts:
            - {name: key, mountPath: /etc/key, readOnly: true}
      volumes:
        - name: key
          secret: {secretName: key, defaultMode: 0400}
`
	const documented = "`TEMPORAL_ADDRESS`"
	objects, err := decodeManifests(good)
	if err != nil {
		t.Fatal(err)
	}
	if errs := checkManifests(objects, documented); len(errs) > 0 {
		t.Fatalf("the good manifest fails: %v", errs)
	}
	for name, tc := range map[string]struct{ old, new, want string }{
		"misspelt field":        {"volumeMounts:", "volumeMount:", `unknown field "volumeMount"`},
		"unknown kind":          {"kind: ServiceAccount", "kind: Cronjob", "v1 Cronjob: not a kind this check knows"},
		"bad YAML":              {"  name: w\n  annotations", "  name: w\n annotations", "yaml"},
		"undocumented variable": {"TEMPORAL_ADDRESS, value", "TEMPORAL_ADRESS, value", "TEMPORAL_ADRESS is not documented"},
		"no defaultMode":        {", defaultMode: 0400}", "}", "secret volume key: set defaultMode: 0400"},
		"world-readable":        {"defaultMode: 0400", "defaultMode: 0444", "secret volume key: defaultMode 0444"},
		"subPath":               {"readOnly: true}", "readOnly: true, subPath: worker.pem}", "subPath"},
		"no service account":    {"      serviceAccountName: w\n", "", "workload identity: the pod has no serviceAccountName"},
		"no client-id":          {"azure.workload.identity/client-id", "example.com/client-id", "azure.workload.identity/client-id"},
	} {
		bad := strings.Replace(good, tc.old, tc.new, 1)
		if bad == good {
			t.Fatalf("%s: the replacement changed nothing", name)
		}
		objects, err := decodeManifests(bad)
		var errs []error
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = checkManifests(objects, documented)
		}
		if got := fmt.Sprint(errs); !strings.Contains(got, tc.want) {
			t.Errorf("%s: errors %s, want one containing %q", name, got, tc.want)
		}
	}
}

// kinds maps "apiVersion kind" to a new object of that type.
var kinds = map[string]func() any{
	"apps/v1 Deployment": func() any { return new(appsv1.Deployment) },
	"v1 ServiceAccount":  func() any { return new(corev1.ServiceAccount) },
	"v1 Secret":          func() any { return new(corev1.Secret) },
	"v1 ConfigMap":       func() any { return new(corev1.ConfigMap) },
	"v1 Service":         func() any { return new(corev1.Service) },
}

// documentSeparator splits a YAML stream into documents.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeManifests parses each document of a YAML block and decodes each
// Kubernetes object strictly into its type. Documents without apiVersion
// and kind (a server's configuration) are only parsed.
func decodeManifests(text string) ([]any, error) {
	var objects []any
	for i, doc := range documentSeparator.Split(text, -1) {
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		if err := yaml3.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("document %d: %v", i+1, err)
		}
		if head.APIVersion == "" || head.Kind == "" {
			continue
		}
		newObject, ok := kinds[head.APIVersion+" "+head.Kind]
		if !ok {
			return nil, fmt.Errorf("document %d: %s %s: not a kind this check knows; add its type to kinds", i+1, head.APIVersion, head.Kind)
		}
		obj := newObject()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %v", i+1, head.Kind, err)
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

// checkManifests applies the rules of TestManifests to the objects of one
// block; docs is the documentation the variables must appear in.
func checkManifests(objects []any, docs string) []error {
	var errs []error
	accounts := map[string]*corev1.ServiceAccount{}
	for _, o := range objects {
		if sa, ok := o.(*corev1.ServiceAccount); ok {
			accounts[sa.Name] = sa
		}
	}
	for _, o := range objects {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			continue
		}
		pod := d.Spec.Template
		secrets := map[string]bool{}
		for _, v := range pod.Spec.Volumes {
			if v.Secret == nil {
				continue
			}
			secrets[v.Name] = true
			switch m := v.Secret.DefaultMode; {
			case m == nil:
				errs = append(errs, fmt.Errorf("secret volume %s: set defaultMode: 0400 (the default, 0644, lets every user of the node's container read it)", v.Name))
			case *m&^0o440 != 0:
				errs = append(errs, fmt.Errorf("secret volume %s: defaultMode %#o lets more than the owner and the pod's group read it; use 0400", v.Name, *m))
			}
		}
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			for _, e := range c.Env {
				if !strings.Contains(docs, "`"+e.Name+"`") {
					errs = append(errs, fmt.Errorf("container %s: %s is not documented (as `%s`)", c.Name, e.Name, e.Name))
				}
			}
			for _, m := range c.VolumeMounts {
				if secrets[m.Name] && m.SubPath != "" {
					errs = append(errs, fmt.Errorf("container %s: secret volume %s is mounted with subPath, which never receives the kubelet's updates: mount the volume at a directory", c.Name, m.Name))
				}
			}
		}
		if pod.Labels["azure.workload.identity/use"] == "true" {
			switch sa := accounts[pod.Spec.ServiceAccountName]; {
			case pod.Spec.ServiceAccountName == "":
				errs = append(errs, fmt.Errorf("workload identity: the pod has no serviceAccountName"))
			case sa == nil || sa.Annotations["azure.workload.identity/client-id"] == "":
				errs = append(errs, fmt.Errorf("workload identity: service account %s, in the same block, needs the annotation azure.workload.identity/client-id", pod.Spec.ServiceAccountName))
			}
		}
	}
	return errs
}
