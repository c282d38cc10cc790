PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES(1,'initial','2026-12-01T19:22:34.0907175+00:00');
CREATE TABLE services (
    name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL);
INSERT INTO services VALUES('myService',11,'{"name":"myService","label":"My service","description":"The seed\u0027s walk-through","location":"local","createdAt":"2026-12-01T19:22:34.5676152+00:00","version":11,"deployment":{"name":"myService","slot":"Production","createdAt":"2026-12-01T19:22:35.3569576+00:00","virtualIps":[{"name":"Vip1","address":"127.66.1.1","isDnsProgrammed":true,"reservedIpName":null},{"name":"Vip2","address":"127.66.1.2","isDnsProgrammed":false,"reservedIpName":null},{"name":"Vip3","address":"127.66.1.3","isDnsProgrammed":false,"reservedIpName":"myReservedIP"}],"virtualMachines":[{"name":"myVM1","address":"127.0.0.11","version":4,"endpoints":[{"name":"myEndpoint","protocol":"tcp","localPort":8080,"publicPort":80,"virtualIpName":"Vip2","loadBalancedSetName":null,"probe":null,"acl":[{"order":100,"action":"permit","remoteSubnet":"10.0.0.0/8","description":"office"},{"order":200,"action":"deny","remoteSubnet":"0.0.0.0/0","description":null}],"idleTimeoutInMinutes":4,"distribution":"none","directServerReturn":false,"proxyProtocol":"none"},{"name":"myLBEndpoint","protocol":"tcp","localPort":8181,"publicPort":81,"virtualIpName":"Vip1","loadBalancedSetName":"myLBSet","probe":{"protocol":"http","port":8181,"path":"/health","intervalInSeconds":5,"timeoutInSeconds":11,"threshold":2},"acl":[],"idleTimeoutInMinutes":10,"distribution":"sourceIP","directServerReturn":false,"proxyProtocol":"v2"}]},{"name":"myVM2","address":"127.0.0.12","version":4,"endpoints":[{"name":"myLBEndpoint","protocol":"tcp","localPort":8181,"publicPort":81,"virtualIpName":"Vip1","loadBalancedSetName":"myLBSet","probe":{"protocol":"http","port":8181,"path":"/health","intervalInSeconds":5,"timeoutInSeconds":11,"threshold":2},"acl":[],"idleTimeoutInMinutes":10,"distribution":"sourceIP","directServerReturn":false,"proxyProtocol":"v2"},{"name":"dns","protocol":"udp","localPort":5353,"publicPort":53,"virtualIpName":"Vip3","loadBalancedSetName":null,"probe":null,"acl":[],"idleTimeoutInMinutes":4,"distribution":"none","directServerReturn":false,"proxyProtocol":"none"}]}],"defaultVirtualIp":{"name":"Vip1","address":"127.66.1.1","isDnsProgrammed":true,"reservedIpName":null}}}');
CREATE TABLE reserved_ips (
    name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL);
INSERT INTO reserved_ips VALUES('myReservedIP',2,'{"name":"myReservedIP","address":"127.66.1.3","id":"1b52d452-5578-4387-92c7-a8061ffccd20","label":"kept for DNS","location":"local","createdAt":"2026-12-01T19:22:35.5330363+00:00","version":2,"serviceName":"myService","deploymentName":"myService","virtualIpName":"Vip3","state":"Created","inUse":true}');
INSERT INTO reserved_ips VALUES('spareIP',1,'{"name":"spareIP","address":"127.66.1.4","id":"2da17e45-1b27-4c3b-a4be-da0b5e89c916","label":null,"location":"local","createdAt":"2026-12-01T19:22:35.5687595+00:00","version":1,"serviceName":null,"deploymentName":null,"virtualIpName":null,"state":"Created","inUse":false}');
CREATE TABLE addresses (
    address TEXT NOT NULL PRIMARY KEY,
    owner_kind TEXT NOT NULL,
    owner_name TEXT NOT NULL COLLATE NOCASE,
    vip_name TEXT);
INSERT INTO addresses VALUES('127.66.1.3','reserved','myReservedIP',NULL);
INSERT INTO addresses VALUES('127.66.1.1','vip','myService','Vip1');
INSERT INTO addresses VALUES('127.66.1.2','vip','myService','Vip2');
INSERT INTO addresses VALUES('127.66.1.4','reserved','spareIP',NULL);
CREATE TABLE operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    target TEXT,
    doc TEXT NOT NULL);
INSERT INTO operations VALUES(1,'d8ed6e61-976d-46f6-bb8d-455aa381bcfc','2026-12-01T19:22:34.5676152+00:00','Succeeded','myService','{"operationId":"d8ed6e61-976d-46f6-bb8d-455aa381bcfc","operationDescription":"New-AzureService","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:34.5676152+00:00","completedAt":"2026-12-01T19:22:35.2576722+00:00","generation":1}');
INSERT INTO operations VALUES(2,'187fbe2b-feef-440f-9411-af9c7ec1cf44','2026-12-01T19:22:35.3569576+00:00','Succeeded','myService','{"operationId":"187fbe2b-feef-440f-9411-af9c7ec1cf44","operationDescription":"New-AzureVM","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.3569576+00:00","completedAt":"2026-12-01T19:22:35.3840243+00:00","generation":2}');
INSERT INTO operations VALUES(3,'424b8d92-4d55-45ac-8021-2eaa1b9b0f6b','2026-12-01T19:22:35.3890734+00:00','Succeeded','myService','{"operationId":"424b8d92-4d55-45ac-8021-2eaa1b9b0f6b","operationDescription":"New-AzureVM","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.3890734+00:00","completedAt":"2026-12-01T19:22:35.3924169+00:00","generation":3}');
INSERT INTO operations VALUES(4,'83e05604-b56c-4953-aee6-c3c1afc4b3ed','2026-12-01T19:22:35.3975076+00:00','Succeeded','myService','{"operationId":"83e05604-b56c-4953-aee6-c3c1afc4b3ed","operationDescription":"Add-AzureVirtualIP","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.3975076+00:00","completedAt":"2026-12-01T19:22:35.4000659+00:00","generation":4}');
INSERT INTO operations VALUES(5,'edd464da-afae-484e-881b-4400c21748a0','2026-12-01T19:22:35.4020313+00:00','Succeeded','myService','{"operationId":"edd464da-afae-484e-881b-4400c21748a0","operationDescription":"Add-AzureVirtualIP","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.4020313+00:00","completedAt":"2026-12-01T19:22:35.4030932+00:00","generation":5}');
INSERT INTO operations VALUES(6,'d858857b-c60a-4d9a-8f2b-6c6f609849f1','2026-12-01T19:22:35.4271328+00:00','Succeeded','myService','{"operationId":"d858857b-c60a-4d9a-8f2b-6c6f609849f1","operationDescription":"Add-AzureEndpoint","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.4271328+00:00","completedAt":"2026-12-01T19:22:35.4686528+00:00","generation":6}');
INSERT INTO operations VALUES(7,'b4679240-a500-4e2b-9a08-99d03746f75b','2026-12-01T19:22:35.4746188+00:00','Succeeded','myService','{"operationId":"b4679240-a500-4e2b-9a08-99d03746f75b","operationDescription":"Add-AzureEndpoint","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.4746188+00:00","completedAt":"2026-12-01T19:22:35.4830809+00:00","generation":7}');
INSERT INTO operations VALUES(8,'f94e2e07-cc1c-4fc1-a551-26471973c5f6','2026-12-01T19:22:35.4925199+00:00','Succeeded','myService','{"operationId":"f94e2e07-cc1c-4fc1-a551-26471973c5f6","operationDescription":"Add-AzureEndpoint","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.4925199+00:00","completedAt":"2026-12-01T19:22:35.5063445+00:00","generation":8}');
INSERT INTO operations VALUES(9,'d58ceccd-5dde-4319-b05a-a9847f48edda','2026-12-01T19:22:35.5122364+00:00','Succeeded','myService','{"operationId":"d58ceccd-5dde-4319-b05a-a9847f48edda","operationDescription":"Set-AzureLoadBalancedEndpoint","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.5122364+00:00","completedAt":"2026-12-01T19:22:35.5265647+00:00","generation":9}');
INSERT INTO operations VALUES(10,'fcaaac3f-02ab-4f16-86de-90ca292dfc70','2026-12-01T19:22:35.5330363+00:00','Succeeded','myReservedIP','{"operationId":"fcaaac3f-02ab-4f16-86de-90ca292dfc70","operationDescription":"New-AzureReservedIP","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myReservedIP","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.5330363+00:00","completedAt":"2026-12-01T19:22:35.5398783+00:00","generation":10}');
INSERT INTO operations VALUES(11,'72b6aa30-2b42-4b23-9378-ca51f83c4b42','2026-12-01T19:22:35.5491688+00:00','Succeeded','myReservedIP','{"operationId":"72b6aa30-2b42-4b23-9378-ca51f83c4b42","operationDescription":"Set-AzureReservedIPAssociation","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myReservedIP","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.5491688+00:00","completedAt":"2026-12-01T19:22:35.553194+00:00","generation":11}');
INSERT INTO operations VALUES(12,'f8687d48-2448-441d-ae06-9fc2cb0bc521','2026-12-01T19:22:35.5555221+00:00','Succeeded','myService','{"operationId":"f8687d48-2448-441d-ae06-9fc2cb0bc521","operationDescription":"Add-AzureEndpoint","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"myService","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.5555221+00:00","completedAt":"2026-12-01T19:22:35.5625323+00:00","generation":12}');
INSERT INTO operations VALUES(13,'6a572643-05ff-4751-8b4e-30604779e179','2026-12-01T19:22:35.5687595+00:00','Succeeded','spareIP','{"operationId":"6a572643-05ff-4751-8b4e-30604779e179","operationDescription":"New-AzureReservedIP","operationStatus":"Succeeded","errorCode":null,"errorMessage":null,"target":"spareIP","caller":"127.0.0.1","createdAt":"2026-12-01T19:22:35.5687595+00:00","completedAt":"2026-12-01T19:22:35.5704701+00:00","generation":13}');
CREATE TABLE meta (
    key TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL);
INSERT INTO meta VALUES('generation','13');
INSERT INTO meta VALUES('allocation_cursor','2135032068');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('operations',13);
CREATE INDEX addresses_owner ON addresses(owner_kind, owner_name);
CREATE INDEX operations_status ON operations(status);
COMMIT;
