# Test stand-in: a Deployment in place of the controller, so a rollout can be waited on
# under kwok.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: '{{ .Release.Name }}-gha-rs-controller'
  namespace: '{{ .Release.Namespace }}'
  labels:
    app.kubernetes.io/name: gha-rs-controller
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: gha-rs-controller
      app.kubernetes.io/instance: '{{ .Release.Name }}'
  template:
    metadata:
      labels:
        app.kubernetes.io/name: gha-rs-controller
        app.kubernetes.io/instance: '{{ .Release.Name }}'
    spec:
      serviceAccountName: '{{ .Values.serviceAccount.name | default (printf "%s-gha-rs-controller" .Release.Name) }}'
      containers:
        - name: manager
          image: ghcr.io/actions/gha-runner-scale-set-controller:0.13.1
