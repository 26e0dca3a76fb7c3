"""VBR emulator: the enumerations of Veeam's OpenAPI documents that the emulator checks query values against.

Copied from the ``components.schemas`` of ``vbr_rest_<revision>.openapi.json`` (1.1-rev0, 1.2-rev1, 1.3-rev0,
1.3-rev1; see ``docs/emulator.md``, VBR).  Data only; ``tests/emulator/tests/test_vbr_openapi_conformance.py``
checks that they still equal the documents'.
"""

from __future__ import annotations

ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "EJobType": {
        "1.1-rev0": (
            "Backup",
        ),
        "1.2-rev1": (
            "Backup", "VSphereReplica", "CloudDirectorBackup", "EntraIDTenantBackup", "EntraIDAuditLogBackup",
            "FileBackupCopy",
        ),
        "1.3-rev0": (
            "Unknown", "VSphereBackup", "HyperVBackup", "VSphereReplica", "CloudDirectorBackup",
            "EntraIDTenantBackup", "EntraIDAuditLogBackup", "FileBackupCopy", "LegacyBackupCopy", "BackupCopy",
            "WindowsAgentBackup", "LinuxAgentBackup", "EntraIDTenantBackupCopy",
        ),
        "1.3-rev1": (
            "Unknown", "VSphereBackup", "HyperVBackup", "VSphereReplica", "CloudDirectorBackup",
            "EntraIDTenantBackup", "EntraIDAuditLogBackup", "FileBackupCopy", "LegacyBackupCopy", "BackupCopy",
            "WindowsAgentBackup", "LinuxAgentBackup", "FileBackup", "ObjectStorageBackup",
            "EntraIDTenantBackupCopy", "SureBackupContentScan", "CloudBackupAzure", "CloudBackupAWS",
            "CloudBackupGoogle", "WindowsAgentBackupWorkstationPolicy", "LinuxAgentBackupWorkstationPolicy",
            "WindowsAgentBackupServerPolicy", "LinuxAgentBackupServerPolicy",
        ),
    },
    "ESessionType": {
        "1.1-rev0": (
            "Infrastructure", "Job", "Automation", "ConfigurationBackup", "RepositoryMaintenance",
            "RepositoryEvacuate", "InfrastructureItemDeletion", "RestoreVm", "InstantRecovery",
            "FirstClassDiskInstantRestore", "AzureApplianceDeploy", "QuickMigration",
        ),
        "1.2-rev1": (
            "Infrastructure", "BackupJob", "Automation", "ConfigurationBackup", "PublishBackupContentViaMount",
            "RepositoryMaintenance", "RepositoryEvacuate", "InfrastructureItemDeletion", "RestoreVm",
            "InstantRecovery", "FirstClassDiskInstantRestore", "AzureApplianceDeploy", "QuickMigration",
            "FileLevelRestore", "LinuxFileLevelRestore", "ReplicaJob", "ConfigurationResynchronize", "Failover",
            "PlannedFailover", "PermanentFailover", "UndoFailover", "Failback", "CommitFailback",
            "UndoFailback", "SwitchReplicaToProduction", "CloudDirectorVmRestore", "CloudDirectorVAppRestore",
            "MalwareDetection", "FirstClassDiskQuickMigration", "EntraIdRestore", "SecurityComplianceAnalyzer",
            "FileServerSave", "SureBackup", "NasRestore", "UnstructuredDataBrowse", "UnstructuredDownloadMeta",
            "DeleteBackup", "BackgroundOperation", "EntraIdRescanRepository",
        ),
        "1.3-rev0": (
            "Infrastructure", "BackupJob", "Automation", "ConfigurationBackup", "PublishBackupContentViaMount",
            "RepositoryMaintenance", "RepositoryEvacuate", "InfrastructureItemDeletion", "RestoreVm",
            "InstantRecovery", "FirstClassDiskInstantRestore", "AzureApplianceDeploy", "QuickMigration",
            "FileLevelRestore", "LinuxFileLevelRestore", "ReplicaJob", "ConfigurationResynchronize", "Failover",
            "PlannedFailover", "PermanentFailover", "UndoFailover", "Failback", "CommitFailback",
            "UndoFailback", "SwitchReplicaToProduction", "CloudDirectorVmRestore", "CloudDirectorVAppRestore",
            "MalwareDetection", "FirstClassDiskQuickMigration", "EntraIdRestore", "EntraIdRestoreFromCopy",
            "UnstructuredDataBackupCopy", "SecurityComplianceAnalyzer", "FileServerSave", "SureBackup",
            "NasRestore", "LogsExport", "TestCredentials", "SqlLogBackup", "OracleLogBackup",
            "PostgreSqlLogBackup", "AzureInstantRecovery", "AzureInstantRecoveryMigration",
            "AzureInstantRecoverySwitchover", "AzureInstantRecoveryStart", "AzureInstantRecoveryStop",
            "AzureInstantRecoveryMigrationUndo", "AzureInstantRecoveryMount", "PublishBackupContentViaNfs",
            "VolumesDiscover", "DeleteBackup", "BackgroundOperation", "AgentDiscovery", "AgentPolicy",
            "AgentBackup", "ApplianceUpdatesInstall", "FailoverPlan", "FailoverPlanTask",
            "UnstructuredDataBrowse", "UnstructuredDownloadMeta", "EntraIdRescanRepository",
            "HostComponentsUpdate", "CopyBackup", "FileBackupHealthCheck", "ArchiveBackup",
            "ArchiveRehydration", "ArchiveSync", "ArchiveCopy", "ArchiveFreezing", "RetrieveBackup",
            "ArchiveTierDownload", "DirectBackupSync", "CheckpointRemoval", "Retention",
        ),
        "1.3-rev1": (
            "Infrastructure", "BackupJob", "Automation", "ConfigurationBackup", "PublishBackupContentViaMount",
            "RepositoryMaintenance", "RepositoryEvacuate", "InfrastructureItemDeletion", "RestoreVm",
            "InstantRecovery", "FirstClassDiskInstantRestore", "AzureApplianceDeploy", "QuickMigration",
            "FileLevelRestore", "LinuxFileLevelRestore", "ReplicaJob", "ConfigurationResynchronize", "Failover",
            "PlannedFailover", "PermanentFailover", "UndoFailover", "Failback", "CommitFailback",
            "UndoFailback", "SwitchReplicaToProduction", "CloudDirectorVmRestore", "CloudDirectorVAppRestore",
            "MalwareDetection", "FirstClassDiskQuickMigration", "EntraIdRestore", "EntraIdRestoreFromCopy",
            "UnstructuredDataBackupCopy", "SecurityComplianceAnalyzer", "FileServerSave", "SureBackup",
            "NasRestore", "LogsExport", "TestCredentials", "SqlLogBackup", "OracleLogBackup",
            "PostgreSqlLogBackup", "AzureInstantRecovery", "AzureInstantRecoveryMigration",
            "AzureInstantRecoverySwitchover", "AzureInstantRecoveryStart", "AzureInstantRecoveryStop",
            "AzureInstantRecoveryMigrationUndo", "AzureInstantRecoveryMount", "FileInstantRecovery",
            "FileInstantRecoveryMigration", "PublishBackupContentViaNfs", "VolumesDiscover", "DeleteBackup",
            "BackgroundOperation", "AgentDiscovery", "AgentPolicy", "AgentBackup", "AgentOperationPurgeCache",
            "ApplianceUpdatesInstall", "FailoverPlan", "FailoverPlanTask", "UnstructuredDataBrowse",
            "BackupCopyJob", "UnstructuredDownloadMeta", "EntraIdRescanRepository", "HostComponentsUpdate",
            "CopyBackup", "FileBackupHealthCheck", "SureBackupContentScan", "ArchiveBackup",
            "ArchiveRehydration", "ArchiveSync", "ArchiveCopy", "ArchiveFreezing", "RetrieveBackup",
            "ArchiveTierDownload", "DirectBackupSync", "CheckpointRemoval", "Retention",
        ),
    },
    "EJobStatus": {
        "1.1-rev0": (
            "running", "inactive", "disabled",
        ),
        "1.2-rev1": (
            "running", "inactive", "disabled",
        ),
        "1.3-rev0": (
            "running", "inactive", "disabled", "enabled", "stopping", "stopped", "starting",
        ),
        "1.3-rev1": (
            "Running", "Inactive", "Disabled", "Enabled", "Stopping", "Stopped", "Starting",
        ),
    },
    "EJobWorkload": {
        "1.1-rev0": (
            "application", "cloudVm", "file", "server", "workstation", "vm",
        ),
        "1.2-rev1": (
            "application", "cloudVm", "file", "server", "workstation", "vm",
        ),
        "1.3-rev0": (
            "application", "cloudVm", "file", "server", "workstation", "vm",
        ),
        "1.3-rev1": (
            "Application", "CloudVm", "File", "Server", "Workstation", "Vm",
        ),
    },
    "EJobFiltersOrderColumn": {
        "1.1-rev0": (
            "Name", "Type", "Description",
        ),
        "1.2-rev1": (
            "Name", "Type", "Description",
        ),
        "1.3-rev0": (
            "Name", "Type", "Description",
        ),
        "1.3-rev1": (
            "Name", "Type", "Description",
        ),
    },
    "EJobStatesFiltersOrderColumn": {
        "1.1-rev0": (
            "Name", "Type", "Status", "LastRun", "LastResult", "NextRun", "Description", "RepositoryId",
            "ObjectsCount",
        ),
        "1.2-rev1": (
            "Name", "Type", "Status", "LastRun", "LastResult", "NextRun", "Description", "RepositoryId",
            "ObjectsCount",
        ),
        "1.3-rev0": (
            "Name", "Type", "Status", "LastRun", "LastResult", "NextRun", "Description", "RepositoryId",
            "ObjectsCount", "RepositoryName", "AfterJobName",
        ),
        "1.3-rev1": (
            "Name", "Type", "Status", "LastRun", "LastResult", "NextRun", "Description", "RepositoryId",
            "ObjectsCount", "RepositoryName", "AfterJobName",
        ),
    },
    "ESessionsFiltersOrderColumn": {
        "1.1-rev0": (
            "Name", "SessionType", "CreationTime", "EndTime", "State", "Result",
        ),
        "1.2-rev1": (
            "Name", "SessionType", "CreationTime", "EndTime", "State", "Result",
        ),
        "1.3-rev0": (
            "Name", "SessionType", "CreationTime", "EndTime", "State", "Result", "InitiatedBy",
        ),
        "1.3-rev1": (
            "Name", "SessionType", "CreationTime", "EndTime", "State", "Result", "InitiatedBy",
        ),
    },
    "ESessionState": {
        "1.1-rev0": (
            "Stopped", "Starting", "Stopping", "Working", "Pausing", "Resuming", "WaitingTape", "Idle",
            "Postprocessing", "WaitingRepository", "WaitingSlot",
        ),
        "1.2-rev1": (
            "Stopped", "Starting", "Stopping", "Working", "Pausing", "Resuming", "WaitingTape", "Idle",
            "Postprocessing", "WaitingRepository", "WaitingSlot",
        ),
        "1.3-rev0": (
            "Stopped", "Starting", "Stopping", "Working", "Pausing", "Resuming", "WaitingTape", "Idle",
            "Postprocessing", "WaitingRepository", "WaitingSlot",
        ),
        "1.3-rev1": (
            "Stopped", "Starting", "Stopping", "Working", "Pausing", "Resuming", "WaitingTape", "Idle",
            "Postprocessing", "WaitingRepository", "WaitingSlot",
        ),
    },
    "ESessionResult": {
        "1.1-rev0": (
            "None", "Success", "Warning", "Failed",
        ),
        "1.2-rev1": (
            "None", "Success", "Warning", "Failed",
        ),
        "1.3-rev0": (
            "None", "Success", "Warning", "Failed",
        ),
        "1.3-rev1": (
            "None", "Success", "Warning", "Failed",
        ),
    },
    "EPlatformType": {
        "1.1-rev0": (
            "VMware", "HyperV", "Vcd", "WindowsPhysical", "LinuxPhysical", "Tape", "NasBackup", "CustomPlatform",
        ),
        "1.2-rev1": (
            "VMware", "HyperV", "CloudDirector", "WindowsPhysical", "LinuxPhysical", "Tape", "CustomPlatform",
            "EntraID", "UnstructuredData", "Test",
        ),
        "1.3-rev0": (
            "VMware", "HyperV", "CloudDirector", "WindowsPhysical", "LinuxPhysical", "Tape", "CustomPlatform",
            "EntraID", "UnstructuredData", "Test", "MongoDb", "AWSEC2", "AzureCompute", "GCE",
        ),
        "1.3-rev1": (
            "VMware", "HyperV", "CloudDirector", "WindowsPhysical", "LinuxPhysical", "Tape", "CustomPlatform",
            "EntraID", "UnstructuredData", "Test", "MongoDb", "AWSEC2", "AzureCompute", "GCE",
        ),
    },
}
