package test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The deployment examples in deploy/ are checked as a person deploying them would rely on
// them: each parses, runs the image's default command on the paths the image promises, and the
// configuration it carries passes the binary's own check-config once its environment variables
// or secret files are given values.

// imageCommand is the Dockerfile's default command, which every example runs.
var imageCommand = []string{"serve", "--config", "/etc/followthrough/config.yaml"}

// testSecret is a value for a secret or setting named name, of the form its key needs.
func testSecret(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.Contains(lower, "intake") && strings.Contains(lower, "secret"):
		return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	case strings.Contains(lower, "database"):
		return "postgres://followthrough:test-password@postgres.example.com:5432/followthrough?sslmode=verify-full"
	case strings.Contains(lower, "url"):
		return "https://" + strings.ReplaceAll(lower, "_", "-") + ".example.com"
	case strings.Contains(lower, "tokens"):
		return "token-one\ntoken-two\n"
	}
	return "test-" + lower
}

// checkConfig runs `followthrough check-config` on a configuration with env added to the
// environment, and fails the test unless it says ok.
func checkConfig(t *testing.T, config []byte, env ...string) {
	t.Helper()
	path := writeConfig(t, string(config))
	out, err := checkConfigOutput(path, env...)
	if err != nil || strings.TrimSpace(out) != path+": ok" {
		t.Fatalf("check-config: %v\n%s\nconfiguration:\n%s", err, out, config)
	}
}

func checkConfigOutput(path string, env ...string) (string, error) {
	cmd := exec.Command(binary, "check-config", "--config", path)
	cmd.Env = append(append(os.Environ(), "FOLLOWTHROUGH_CONFIG="), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// envReferences are the ${NAME}s a configuration uses.
func envReferences(config []byte) []string {
	var names []string
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllSubmatch(config, -1) {
		if name := string(m[1]); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func readDeploy(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDeployCompose: the service runs the image's command with the database on a named volume
// at /data and config.yaml mounted read-only; every variable the configuration uses is in the
// env file's example; filled with values it passes check-config, and as shipped (blank) it
// does not.
func TestDeployCompose(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Build    string   `yaml:"build"`
			Command  []string `yaml:"command"`
			EnvFile  []string `yaml:"env_file"`
			Ports    []string `yaml:"ports"`
			Volumes  []string `yaml:"volumes"`
			ReadOnly bool     `yaml:"read_only"`
			CapDrop  []string `yaml:"cap_drop"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(readDeploy(t, "compose.yaml"), &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	svc, ok := compose.Services["followthrough"]
	if !ok || len(compose.Services) != 1 {
		t.Fatalf("compose.yaml: services %v, want exactly followthrough", compose.Services)
	}
	if svc.Build != ".." || !slices.Equal(svc.Command, imageCommand) || !slices.Contains(svc.Ports, "8080:8080") ||
		!svc.ReadOnly || !slices.Contains(svc.CapDrop, "ALL") {
		t.Errorf("compose.yaml: followthrough is %+v", svc)
	}
	var configFile string
	dataVolume := false
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		switch {
		case len(parts) >= 2 && parts[1] == "/data":
			_, declared := compose.Volumes[parts[0]]
			dataVolume = declared
		case len(parts) == 3 && parts[1] == imageCommand[2] && parts[2] == "ro":
			configFile = parts[0]
		}
	}
	if !dataVolume || configFile == "" {
		t.Fatalf("compose.yaml: volumes %v: want a declared named volume on /data and the config file read-only on %s", svc.Volumes, imageCommand[2])
	}
	if len(svc.EnvFile) != 1 {
		t.Fatalf("compose.yaml: env_file %v, want one", svc.EnvFile)
	}

	config := readDeploy(t, configFile)
	example := readDeploy(t, svc.EnvFile[0]+".example")
	exampleEnv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(example))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			exampleEnv[name] = value
		}
	}
	var filled, blank []string
	for _, name := range envReferences(config) {
		value, ok := exampleEnv[name]
		if !ok {
			t.Errorf("%s uses ${%s}, which %s.example does not set", configFile, name, svc.EnvFile[0])
		}
		filled = append(filled, name+"="+testSecret(name))
		blank = append(blank, name+"="+value)
	}
	checkConfig(t, config, filled...)
	if out, err := checkConfigOutput(writeConfig(t, string(config)), blank...); exitCode(err) != 2 {
		t.Errorf("check-config with the example's blank secrets: %v, want exit 2:\n%s", err, out)
	}
}

// k8sObject is what the test reads of a Kubernetes object.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas     *int   `yaml:"replicas"`
		MinAvailable *int   `yaml:"minAvailable"` // PodDisruptionBudget
		ServiceName  string `yaml:"serviceName"`
		ClusterIP    string `yaml:"clusterIP"`
		Ports        []struct {
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers                []k8sContainer `yaml:"containers"`
				TopologySpreadConstraints []struct {
					TopologyKey string `yaml:"topologyKey"`
				} `yaml:"topologySpreadConstraints"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe k8sProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// k8sObjects reads a manifest of Kubernetes objects, by kind/name.
func k8sObjects(t *testing.T, file string) map[string]k8sObject {
	t.Helper()
	objects := map[string]k8sObject{}
	dec := yaml.NewDecoder(bytes.NewReader(readDeploy(t, file)))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objects[o.Kind+"/"+o.Metadata.Name] = o
	}
	return objects
}

// TestDeployKubernetes: one replica of a StatefulSet whose claim is mounted on /data, running
// the image's command with the ConfigMap on /etc/followthrough and the Secret's files where the
// configuration reads them, probed on /healthz and /readyz, with resource requests; the
// configuration passes check-config once the Secret's keys hold values.
func TestDeployKubernetes(t *testing.T) {
	objects := k8sObjects(t, "kubernetes/followthrough.yaml")
	sts, ok := objects["StatefulSet/followthrough"]
	if !ok {
		t.Fatalf("no StatefulSet followthrough in %v", objects)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1: one process owns the SQLite file", sts.Spec.Replicas)
	}
	if gov := objects["Service/"+sts.Spec.ServiceName]; gov.Spec.ClusterIP != "None" {
		t.Errorf("serviceName %q is not a headless Service", sts.Spec.ServiceName)
	}
	services := []string{"Service/followthrough", "Service/" + sts.Spec.ServiceName}
	mounts := checkK8sPod(t, objects, sts, services)
	if len(sts.Spec.VolumeClaimTemplates) != 1 || mounts[sts.Spec.VolumeClaimTemplates[0].Metadata.Name] != "/data" {
		t.Errorf("the volume claim is not mounted on /data: %v", mounts)
	}
}

// TestDeployKubernetesPostgres: several replicas of a Deployment sharing PostgreSQL, whose URL
// comes from the Secret through database_file, spread over nodes and kept above one during a
// drain, with no volume of their own; otherwise the pod is the single-replica one's (the
// image's command, probes, resources, non-root, read-only), and its configuration passes
// check-config with a PostgreSQL URL in the Secret.
func TestDeployKubernetesPostgres(t *testing.T) {
	objects := k8sObjects(t, "kubernetes/followthrough-postgres.yaml")
	deploy, ok := objects["Deployment/followthrough"]
	if !ok {
		t.Fatalf("no Deployment followthrough in %v", objects)
	}
	if deploy.Spec.Replicas == nil || *deploy.Spec.Replicas < 2 {
		t.Errorf("replicas %v, want several: the point is to survive a lost node", deploy.Spec.Replicas)
	}
	pod := deploy.Spec.Template.Spec
	if len(pod.TopologySpreadConstraints) == 0 || pod.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("topologySpreadConstraints %+v: want the replicas spread over nodes", pod.TopologySpreadConstraints)
	}
	if pdb := objects["PodDisruptionBudget/followthrough"]; pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable < 1 {
		t.Errorf("no PodDisruptionBudget keeping a replica up during a drain: %+v", pdb.Spec)
	}
	mounts := checkK8sPod(t, objects, deploy, []string{"Service/followthrough"})
	if _, ok := mounts["data"]; ok || len(deploy.Spec.VolumeClaimTemplates) > 0 {
		t.Errorf("a replica has a data volume (%v): the data is in PostgreSQL", mounts)
	}
	config := []byte(objects["ConfigMap/followthrough-config"].Data["config.yaml"])
	if !regexp.MustCompile(`(?m)^database_file: /var/run/secrets/followthrough/database-url\s*$`).Match(config) {
		t.Errorf("the configuration does not read the database URL from the Secret:\n%s", config)
	}
}

// checkK8sPod checks the pod of a workload: the image's command on port 8080 behind the
// services, probes on /healthz and /readyz, resources, non-root with a read-only root, the
// ConfigMap's config.yaml where the command reads it, the Secret's files where the
// configuration reads them, and check-config passing once they hold values. It returns the
// container's mounts, volume name -> path.
func checkK8sPod(t *testing.T, objects map[string]k8sObject, workload k8sObject, services []string) map[string]string {
	t.Helper()
	pod := workload.Spec.Template.Spec
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != imageUID || len(pod.Containers) != 1 {
		t.Fatalf("pod: %+v", pod)
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, imageCommand) {
		t.Errorf("args %v, want the image's %v", c.Args, imageCommand)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 {
		t.Fatalf("ports %+v, want 8080", c.Ports)
	}
	port := c.Ports[0].Name
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
		c.LivenessProbe.HTTPGet.Port != port || c.ReadinessProbe.HTTPGet.Port != port {
		t.Errorf("probes %+v %+v, want /healthz and /readyz on %s", c.LivenessProbe, c.ReadinessProbe, port)
	}
	for _, svc := range services {
		if ports := objects[svc].Spec.Ports; len(ports) != 1 || ports[0].TargetPort != port {
			t.Errorf("%s targets %+v, want %s", svc, ports, port)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v, want cpu and memory requests and a memory limit", c.Resources)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v", c.SecurityContext)
	}

	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	var config []byte
	var secret k8sObject
	secretMount := ""
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			if mounts[v.Name]+"/config.yaml" != imageCommand[2] {
				t.Errorf("ConfigMap %s is mounted on %q, not where the command reads config.yaml", v.ConfigMap.Name, mounts[v.Name])
			}
			config = []byte(objects["ConfigMap/"+v.ConfigMap.Name].Data["config.yaml"])
		case v.Secret != nil:
			secret, secretMount = objects["Secret/"+v.Secret.SecretName], mounts[v.Name]
		}
	}
	if len(config) == 0 || secretMount == "" || len(secret.StringData) == 0 {
		t.Fatalf("want a ConfigMap with config.yaml and a mounted Secret with keys; config %q, secret on %q: %v", config, secretMount, secret.StringData)
	}
	if refs := envReferences(config); len(refs) > 0 {
		t.Errorf("the ConfigMap's configuration uses environment variables %v, which the pod does not set", refs)
	}
	// The Secret's files, with values, where the configuration finds them.
	dir := t.TempDir()
	for _, m := range regexp.MustCompile(regexp.QuoteMeta(secretMount)+`/([^\s]+)`).FindAllSubmatch(config, -1) {
		if _, ok := secret.StringData[string(m[1])]; !ok {
			t.Errorf("the configuration reads %s/%s, which is no key of the Secret", secretMount, m[1])
		}
	}
	for key := range secret.StringData {
		must(t, os.WriteFile(filepath.Join(dir, key), []byte(testSecret(key)), 0o600))
	}
	checkConfig(t, bytes.ReplaceAll(config, []byte(secretMount+"/"), []byte(dir+"/")))
	return mounts
}

// TestDeploySystemd: the unit runs the image's command as a dynamic user with its state
// directory, the hardening options set, and every credential the configuration reads loaded;
// the configuration passes check-config with the credentials given. Where systemd-analyze is
// installed, its offline security review must rate the unit's exposure at most 2.0 (OK).
func TestDeploySystemd(t *testing.T) {
	unit := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(readDeploy(t, "systemd/followthrough.service")), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("followthrough.service: %q is no key=value", line)
			}
			unit[section+"."+key] = append(unit[section+"."+key], value)
		}
	}
	want := map[string]string{
		"Service.ExecStart":               "/usr/local/bin/followthrough " + strings.Join(imageCommand, " "),
		"Service.DynamicUser":             "yes",
		"Service.StateDirectory":          "followthrough",
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.PrivateDevices":          "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.RestrictSUIDSGID":        "yes",
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.SystemCallArchitectures": "native",
		"Install.WantedBy":                "multi-user.target",
	}
	for key, value := range want {
		if got := unit[key]; !slices.Equal(got, []string{value}) {
			t.Errorf("followthrough.service: %s=%v, want %q", key, got, value)
		}
	}

	dir := t.TempDir()
	credentials := map[string]bool{}
	for _, c := range unit["Service.LoadCredential"] {
		name, _, _ := strings.Cut(c, ":")
		credentials[name] = true
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(testSecret(name)), 0o600))
	}
	config := readDeploy(t, "systemd/config.yaml")
	if refs := envReferences(config); !slices.Equal(refs, []string{"CREDENTIALS_DIRECTORY"}) {
		t.Errorf("systemd/config.yaml uses ${%v}; systemd sets only CREDENTIALS_DIRECTORY", refs)
	}
	for _, m := range regexp.MustCompile(`\$\{CREDENTIALS_DIRECTORY\}/([^\s]+)`).FindAllSubmatch(config, -1) {
		if !credentials[string(m[1])] {
			t.Errorf("systemd/config.yaml reads the credential %s, which the unit does not load", m[1])
		}
	}
	checkConfig(t, config, "CREDENTIALS_DIRECTORY="+dir)

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: the unit's security review is skipped")
		return
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", "../deploy/systemd/followthrough.service").CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	}
}
