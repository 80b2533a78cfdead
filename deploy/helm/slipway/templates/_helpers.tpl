{{/* The release's name prefix, a DNS-1123 label of at most 50 characters (suffixes follow). */}}
{{- define "slipway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "slipway.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: server, scheduler, or inference-<name>. */}}
{{- define "slipway.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "slipway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "slipway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "slipway.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* A DNS-1123 label from a Slipway deployment name, as `slipway deploy render` makes it. */}}
{{- define "slipway.k8sName" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trunc 63 | trimAll "-" -}}
{{- end -}}

{{/* The stores and credentials every Slipway container reads, from the Secrets in values. */}}
{{- define "slipway.env" -}}
- name: SLIPWAY_STORE_URI
  valueFrom:
    secretKeyRef: {name: {{ .Values.stores.secret | quote }}, key: uri}
- name: SLIPWAY_ARTIFACTS_URI
  valueFrom:
    secretKeyRef: {name: {{ .Values.stores.secret | quote }}, key: artifacts}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.stores.secret | quote }}, key: pgpassword, optional: true}
{{- if .Values.redis.secret }}
- name: SLIPWAY_ONLINE_STORE
  valueFrom:
    secretKeyRef: {name: {{ .Values.redis.secret | quote }}, key: url}
{{- end }}
- name: SLIPWAY_METRICS_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ .Values.auth.secret | quote }}, key: metrics_token, optional: true}
- name: SLIPWAY_HOME
  value: /var/lib/slipway
{{- end -}}

{{- define "slipway.envFrom" -}}
{{- if .Values.stores.s3Secret }}
envFrom:
  - secretRef: {name: {{ .Values.stores.s3Secret | quote }}}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every workload. */}}
{{- define "slipway.podSpec" -}}
serviceAccountName: {{ include "slipway.serviceAccountName" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
