{{/* Names, labels and shared pod parts of the hausbus chart. */}}

{{/* The six MQTT components, each a StatefulSet with its own sqlite volume. */}}
{{- define "hausbus.components" -}}
order product payment delivery notification view
{{- end }}

{{- define "hausbus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-wide prefix of every object name. */}}
{{- define "hausbus.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one workload's objects. Call with (dict "root" $ "name" "order"). */}}
{{- define "hausbus.workloadName" -}}
{{- printf "%s-%s" (include "hausbus.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hausbus.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "hausbus.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "hausbus.imageTag" .) }}
{{- end }}

{{/* The broker's image: mosquitto.image, else the project image (it has mosquitto). */}}
{{- define "hausbus.mosquittoImage" -}}
{{- if .Values.mosquitto.image.repository }}
{{- printf "%s:%s" .Values.mosquitto.image.repository (default "latest" .Values.mosquitto.image.tag) }}
{{- else }}
{{- include "hausbus.image" . }}
{{- end }}
{{- end }}

{{/* Selector labels of one workload: stable across upgrades. Call with (dict "root" $ "name" ...). */}}
{{- define "hausbus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hausbus.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* All labels of one workload's objects; `app` and `version` are the ones Istio reads. */}}
{{- define "hausbus.labels" -}}
{{ include "hausbus.selectorLabels" . }}
app: {{ printf "hausbus-%s" .name }}
version: {{ (include "hausbus.imageTag" .root) | quote }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hausbus
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The HAUSBUS_* environment of one workload, as ConfigMap data. The workload's ConfigMap
and the checksum/config annotation of its pods both render it, so a change rolls exactly
the pods it concerns. Call with (dict "root" $ "name" "order" "logLevel" "info").
*/}}
{{- define "hausbus.configData" -}}
{{- $v := .root.Values -}}
HAUSBUS_MQTT_HOST: {{ include "hausbus.mqttHost" .root | quote }}
HAUSBUS_MQTT_PORT: {{ $v.mosquitto.port | quote }}
HAUSBUS_DATA_DIR: {{ $v.config.dataDir | quote }}
HAUSBUS_LOG_LEVEL: {{ .logLevel | quote }}
HAUSBUS_REDRIVE_MS: {{ $v.config.redriveMs | quote }}
HAUSBUS_REQUEST_TIMEOUT_MS: {{ $v.config.requestTimeoutMs | quote }}
HAUSBUS_COMMIT_BATCH: {{ $v.config.commitBatch | quote }}
HAUSBUS_BUS_BATCH: {{ $v.config.busBatch | quote }}
HAUSBUS_PAYMENT_LIMIT: {{ $v.config.paymentLimit | int64 | quote }}
{{- if $v.mosquitto.auth.enabled }}
HAUSBUS_MQTT_USERNAME: {{ .name | quote }}
HAUSBUS_MQTT_PASSWORD_FILE: "/etc/hausbus/mqtt/password"
{{- end }}
{{- if and (eq .name "notification") $v.kakao.url }}
{{- if not $v.kakao.existingSecret }}
{{- fail "kakao.url needs kakao.existingSecret (the Secret holding the access token)" }}
{{- end }}
HAUSBUS_KAKAO_URL: {{ $v.kakao.url | quote }}
HAUSBUS_KAKAO_TOKEN_FILE: {{ printf "/etc/hausbus/kakao/%s" $v.kakao.secretKey | quote }}
{{- end }}
{{- if and (ne .name "gateway") (include "hausbus.sharedStore" .root) }}
HAUSBUS_DATABASE_URL_FILE: {{ printf "/etc/hausbus/database/%s" $v.database.secretKey | quote }}
{{- end }}
{{- if and (eq .name "notification") $v.kakao.orderUrlBase }}
HAUSBUS_ORDER_URL_BASE: {{ $v.kakao.orderUrlBase | quote }}
{{- end }}
{{- if eq .name "gateway" }}
HAUSBUS_HTTP_BIND: {{ ternary "127.0.0.1" "0.0.0.0" (eq $v.hostNetwork true) | quote }}
HAUSBUS_HTTP_PORT: {{ $v.gateway.port | quote }}
HAUSBUS_AUTH: {{ $v.gateway.auth.mode | quote }}
{{- if eq $v.gateway.auth.mode "on" }}
HAUSBUS_AUTH_SECRET_FILE: {{ printf "/etc/hausbus/auth/%s" $v.gateway.auth.secretKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Liveness/readiness timing shared by every pod. */}}
{{- define "hausbus.probeTiming" -}}
initialDelaySeconds: {{ .Values.probes.initialDelaySeconds }}
periodSeconds: {{ .Values.probes.periodSeconds }}
timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
failureThreshold: {{ .Values.probes.failureThreshold }}
{{- end }}


{{/* mosquitto.conf for the cluster: broker/mosquitto.conf, listening on every address. */}}
{{- define "hausbus.mosquittoConf" -}}
per_listener_settings false
listener {{ .Values.mosquitto.port }}{{ if .Values.hostNetwork }} 127.0.0.1{{ end }}
{{- if .Values.mosquitto.auth.enabled }}
# One user per process, each allowed only its own topics (broker/acl.table, docs/SECURITY.md).
allow_anonymous false
password_file /etc/mosquitto-auth/passwd
{{- if .Values.mosquitto.auth.existingSecret }}
acl_file /etc/mosquitto-auth/acl
{{- else }}
acl_file /etc/mosquitto/acl
{{- end }}
{{- else }}
# Open mode (mosquitto.auth.enabled=false): anonymous like ./run.sh (docs/SECURITY.md).
allow_anonymous true
{{- end }}
# A component that is down keeps its QoS 1 messages queued in its session.
persistence true
persistence_location /mosquitto/data/
autosave_interval 1
autosave_on_changes false
persistent_client_expiration 7d
set_tcp_nodelay true
max_queued_messages 100000
max_inflight_messages 100
# HB_REPLY_MAX + HB_PACKET_OVERHEAD: the largest packet anyone sends (broker/mosquitto.conf).
max_packet_size 1064960
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true
{{- end }}

{{/* Where components and gateway reach the broker: config.mqttHost, else 127.0.0.1 on the
host network, else the broker Service. */}}
{{- define "hausbus.mqttHost" -}}
{{- if .Values.config.mqttHost }}
{{- .Values.config.mqttHost }}
{{- else if .Values.hostNetwork }}
{{- "127.0.0.1" }}
{{- else }}
{{- include "hausbus.workloadName" (dict "root" . "name" "mosquitto") }}
{{- end }}
{{- end }}

{{/* Kind of the broker and component workloads: StatefulSet (default) or Deployment. */}}
{{- define "hausbus.workloadKind" -}}
{{- $k := .Values.workload.kind | default "StatefulSet" }}
{{- if not (has $k (list "StatefulSet" "Deployment")) }}
{{- fail (printf "workload.kind must be \"StatefulSet\" or \"Deployment\", not %q" $k) }}
{{- end }}
{{- $k }}
{{- end }}

{{/* StatefulSet: its serviceName; Deployment: Recreate, so the old pod releases the
sqlite database before the new one opens it. Call with (dict "root" $ "name" ...). */}}
{{- define "hausbus.workloadStrategy" -}}
{{- if eq (include "hausbus.workloadKind" .root) "StatefulSet" }}
serviceName: {{ include "hausbus.workloadName" . }}
{{- else }}
strategy:
  type: Recreate
{{- end }}
{{- end }}

{{/* Name of the data PVC: the one a StatefulSet's volumeClaimTemplate creates for pod 0,
so switching workload.kind keeps the data. */}}
{{- define "hausbus.dataClaimName" -}}
{{- printf "data-%s-0" (include "hausbus.workloadName" .) }}
{{- end }}

{{/* Deployment only: the `data` volume bound to the workload's PVC. */}}
{{- define "hausbus.dataVolume" -}}
{{- if eq (include "hausbus.workloadKind" .root) "Deployment" }}
- name: data
  persistentVolumeClaim:
    claimName: {{ include "hausbus.dataClaimName" . }}
{{- end }}
{{- end }}

{{/* Deployment only: the PVC a StatefulSet would get from its volumeClaimTemplate.
Call with (dict "ctx" (dict "root" $ "name" ...) "persistence" ...). */}}
{{- define "hausbus.dataClaim" -}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "hausbus.dataClaimName" .ctx }}
  labels:
    {{- include "hausbus.labels" .ctx | nindent 4 }}
spec:
  accessModes: ["ReadWriteOnce"]
  {{- with .persistence.storageClass }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ .persistence.size }}
{{- end }}

{{/* A probe's port: the named container port, or on the host network (where the chart
declares no container ports, because podman refuses port mappings there) the number. */}}
{{- define "hausbus.probePort" -}}
{{- if .root.Values.hostNetwork }}{{ .port }}{{ else }}{{ .name }}{{ end }}
{{- end }}

{{/* The Secret holding the processes' MQTT passwords: mosquitto.auth.existingSecret, else
the one the chart generates (mqtt-secret.yaml). */}}
{{- define "hausbus.mqttSecretName" -}}
{{- .Values.mosquitto.auth.existingSecret | default (include "hausbus.workloadName" (dict "root" . "name" "mqtt")) }}
{{- end }}

{{/* The Secret holding the gateway's token signing key: gateway.auth.existingSecret, else the
one the chart generates (auth-secret.yaml). */}}
{{- define "hausbus.authSecretName" -}}
{{- .Values.gateway.auth.existingSecret | default (include "hausbus.workloadName" (dict "root" . "name" "auth")) }}
{{- end }}

{{/* A generated Secret's value for key: the one already in the cluster (lookup), so
upgrades keep passwords and keys stable, else a new random one of length characters.
Call with (dict "root" $ "name" secret name "key" key "length" n); base64-encoded. */}}
{{- define "hausbus.stableRandom" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name }}
{{- if and $existing (hasKey ($existing.data | default dict) .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum (int .length) | b64enc }}
{{- end }}
{{- end }}

{{/* The secrets one process (.name) mounts: with mosquitto.auth.enabled its own MQTT
password and nobody else's; the notification component with kakao.url its KakaoTalk
token. Call with (dict "root" $ "name" ...). */}}
{{- define "hausbus.mqttPasswordMount" -}}
{{- if and (ne .name "gateway") (include "hausbus.sharedStore" .root) }}
- name: database-url
  mountPath: /etc/hausbus/database
  readOnly: true
{{- end }}
{{- if .root.Values.mosquitto.auth.enabled }}
- name: mqtt-password
  mountPath: /etc/hausbus/mqtt
  readOnly: true
{{- end }}
{{- if and (eq .name "notification") .root.Values.kakao.url }}
- name: kakao-token
  mountPath: /etc/hausbus/kakao
  readOnly: true
{{- end }}
{{- end }}
{{- define "hausbus.mqttPasswordVolume" -}}
{{- if and (ne .name "gateway") (include "hausbus.sharedStore" .root) }}
- name: database-url
  secret:
    secretName: {{ include "hausbus.databaseSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.database.secretKey }}
        path: {{ .root.Values.database.secretKey }}
{{- end }}
{{- if .root.Values.mosquitto.auth.enabled }}
- name: mqtt-password
  secret:
    secretName: {{ include "hausbus.mqttSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ printf "%s.password" .name }}
        path: password
{{- end }}
{{- if and (eq .name "notification") .root.Values.kakao.url }}
- name: kakao-token
  secret:
    secretName: {{ .root.Values.kakao.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.kakao.secretKey }}
        path: {{ .root.Values.kakao.secretKey }}
{{- end }}
{{- end }}

{{/* "true" when the components share a PostgreSQL database (database.url or
database.existingSecret): Deployments of replicas instead of one StatefulSet each. */}}
{{- define "hausbus.sharedStore" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/* The Secret with the database URL: database.existingSecret, else the one the chart
makes from database.url (secrets.yaml). */}}
{{- define "hausbus.databaseSecretName" -}}
{{- .Values.database.existingSecret | default (include "hausbus.workloadName" (dict "root" . "name" "database")) }}
{{- end }}
