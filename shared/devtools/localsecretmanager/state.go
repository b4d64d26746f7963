package localsecretmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// state is everything the server knows; it is also the JSON layout of the state file.
type state struct {
	// Secrets is keyed by the secret's resource name, projects/{project}/secrets/{secret}.
	Secrets map[string]*secretRecord `json:"secrets"`
	// LastEtag makes every etag the server hands out distinct, also across restarts.
	LastEtag int64 `json:"last_etag"`
}

type secretRecord struct {
	CreateTime  time.Time         `json:"create_time"`
	Labels      map[string]string `json:"labels,omitempty"`
	Replication json.RawMessage   `json:"replication"` // protojson of secretmanagerpb.Replication
	Etag        string            `json:"etag"`
	// Versions[i] is version i+1; versions are never removed, as in the real API.
	Versions []*versionRecord `json:"versions"`
}

type versionRecord struct {
	State          string    `json:"state"` // a secretmanagerpb.SecretVersion_State name
	CreateTime     time.Time `json:"create_time"`
	DestroyTime    time.Time `json:"destroy_time,omitzero"`
	Data           []byte    `json:"data,omitempty"` // wiped when destroyed
	CRC32C         uint32    `json:"crc32c"`
	ClientChecksum bool      `json:"client_checksum,omitempty"`
	Etag           string    `json:"etag"`
}

func newState() *state { return &state{Secrets: map[string]*secretRecord{}} }

func (st *state) nextEtag() string {
	st.LastEtag++
	return `"` + strconv.FormatInt(st.LastEtag, 16) + `"`
}

var (
	projectName = regexp.MustCompile(`^projects/([^/]+)$`)
	secretName  = regexp.MustCompile(`^projects/[^/]+/secrets/([^/]+)$`)
	versionName = regexp.MustCompile(`^(projects/[^/]+/secrets/[^/]+)/versions/([^/]+)$`)
	// secretID is the real API's rule for secret ids.
	secretID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	// aliasID is what the real API accepts in place of a version number (`latest` or an alias).
	aliasID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)
)

func checkSecretName(name string) error {
	m := secretName.FindStringSubmatch(name)
	if m == nil || !secretID.MatchString(m[1]) {
		return invalidf("Invalid resource field value in the request: %q is not projects/*/secrets/*.", name)
	}
	return nil
}

// lookupSecret finds the secret called name or answers NotFound or InvalidArgument.
func (st *state) lookupSecret(name string) (*secretRecord, error) {
	if err := checkSecretName(name); err != nil {
		return nil, err
	}
	rec, ok := st.Secrets[name]
	if !ok {
		return nil, notFoundf("Secret [%s] not found or has no versions.", name)
	}
	return rec, nil
}

// lookupVersion resolves a version name, including the `latest` alias, to its secret, its number
// and its record. allowLatest is false for the calls that change a version, which the real API
// addresses by number only.
func (st *state) lookupVersion(name string, allowLatest bool) (string, int, *versionRecord, error) {
	m := versionName.FindStringSubmatch(name)
	if m == nil || checkSecretName(m[1]) != nil || !aliasID.MatchString(m[2]) {
		return "", 0, nil, invalidf("Invalid resource field value in the request: %q is not projects/*/secrets/*/versions/*.", name)
	}
	secret, id := m[1], m[2]
	rec, err := st.lookupSecret(secret)
	if err != nil {
		return "", 0, nil, err
	}
	var n int
	switch {
	case id == "latest" && allowLatest:
		n = len(rec.Versions)
	case id == "latest":
		return "", 0, nil, invalidf("The version alias %q cannot be used in this request; name a version number.", id)
	default:
		parsed, err := strconv.Atoi(id)
		if err != nil || strconv.Itoa(parsed) != id {
			// An alias we do not know (the stand-in supports none but `latest`).
			return "", 0, nil, notFoundf("Secret Version [%s] not found.", name)
		}
		n = parsed
	}
	if n < 1 || n > len(rec.Versions) {
		return "", 0, nil, notFoundf("Secret Version [%s] not found.", name)
	}
	return secret, n, rec.Versions[n-1], nil
}

func versionState(v *versionRecord) secretmanagerpb.SecretVersion_State {
	return secretmanagerpb.SecretVersion_State(secretmanagerpb.SecretVersion_State_value[v.State])
}

func (v *versionRecord) proto(secret string, n int) *secretmanagerpb.SecretVersion {
	pb := &secretmanagerpb.SecretVersion{
		Name:                           fmt.Sprintf("%s/versions/%d", secret, n),
		CreateTime:                     timestamppb.New(v.CreateTime),
		State:                          versionState(v),
		Etag:                           v.Etag,
		ClientSpecifiedPayloadChecksum: v.ClientChecksum,
	}
	if !v.DestroyTime.IsZero() {
		pb.DestroyTime = timestamppb.New(v.DestroyTime)
	}
	return pb
}

func (rec *secretRecord) proto(name string) (*secretmanagerpb.Secret, error) {
	repl := &secretmanagerpb.Replication{}
	if err := protojson.Unmarshal(rec.Replication, repl); err != nil {
		return nil, internalf("localsecretmanager: stored replication of %s: %v", name, err)
	}
	return &secretmanagerpb.Secret{
		Name:        name,
		CreateTime:  timestamppb.New(rec.CreateTime),
		Labels:      rec.Labels,
		Replication: repl,
		Etag:        rec.Etag,
	}, nil
}

// load reads the state file; a missing file is an empty state.
func (s *service) load() error {
	data, err := os.ReadFile(s.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localsecretmanager: read state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(data, st); err != nil {
		return fmt.Errorf("localsecretmanager: state file %s is not valid: %w", s.stateFile, err)
	}
	if st.Secrets == nil {
		st.Secrets = map[string]*secretRecord{}
	}
	s.state, s.lastSaved = st, data
	return nil
}

// save writes the state to a temporary file and renames it over the state file, so a crash
// leaves either the old or the new state, never half of one. The file holds secret payloads in
// the clear: it is created with mode 0600.
func (s *service) save() ([]byte, error) {
	data, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(s.stateFile)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.stateFile)+".*.tmp") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), s.stateFile); err != nil {
		return nil, err
	}
	return data, nil
}

// rollback restores the state last written to the file.
func (s *service) rollback() error {
	st := newState()
	if s.lastSaved != nil {
		if err := json.Unmarshal(s.lastSaved, st); err != nil {
			return err
		}
	}
	if st.Secrets == nil {
		st.Secrets = map[string]*secretRecord{}
	}
	s.state = st
	return nil
}
