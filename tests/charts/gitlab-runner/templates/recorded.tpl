{{- /* Test stand-in (see Chart.yaml): the values this release received, for tests to read
       back, and a manager Deployment shaped like upstream's templates/deployment.yaml. */ -}}
{{- $fullname := .Release.Name }}
{{- if not (contains .Chart.Name .Release.Name) }}
{{- $fullname = printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-recorded-values
  namespace: {{ .Release.Namespace }}
data:
  values.yaml: |
    {{- toYaml .Values | nindent 4 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    app: {{ $fullname }}
spec:
  replicas: 1
  {{- with .Values.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      app: {{ $fullname }}
  template:
    metadata:
      labels:
        app: {{ $fullname }}
        {{- range $key, $value := .Values.podLabels }}
        {{ $key }}: {{ $value | quote }}
        {{- end }}
    spec:
      {{- if .Values.priorityClassName }}
      priorityClassName: {{ .Values.priorityClassName | quote }}
      {{- end }}
      containers:
        - name: {{ $fullname }}
          image: registry.gitlab.com/gitlab-org/gitlab-runner:alpine-v{{ .Chart.AppVersion }}
          volumeMounts:
            - name: projected-secrets
              mountPath: /secrets
      volumes:
        - name: projected-secrets
          projected:
            sources:
              - secret:
                  name: {{ .Values.runners.secret | default $fullname }}
                  items:
                    - key: runner-registration-token
                      path: runner-registration-token
                    - key: runner-token
                      path: runner-token
