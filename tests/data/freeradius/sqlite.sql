-- FreeRADIUS 3.x tables (rlm_sql + rlm_sqlippool), SQLite flavour; see README.md.
CREATE TABLE radacct (
  radacctid INTEGER PRIMARY KEY AUTOINCREMENT, acctsessionid varchar(64) NOT NULL DEFAULT '',
  acctuniqueid varchar(32) NOT NULL DEFAULT '', username varchar(64) NOT NULL DEFAULT '',
  realm varchar(64) DEFAULT '', nasipaddress varchar(15) NOT NULL DEFAULT '', nasportid varchar(32) DEFAULT NULL,
  nasporttype varchar(32) DEFAULT NULL, acctstarttime datetime NULL DEFAULT NULL,
  acctupdatetime datetime NULL DEFAULT NULL, acctstoptime datetime NULL DEFAULT NULL,
  acctinterval int(12) DEFAULT NULL, acctsessiontime int(12) DEFAULT NULL, acctauthentic varchar(32) DEFAULT NULL,
  connectinfo_start varchar(50) DEFAULT NULL, connectinfo_stop varchar(50) DEFAULT NULL,
  acctinputoctets bigint(20) DEFAULT NULL, acctoutputoctets bigint(20) DEFAULT NULL,
  calledstationid varchar(50) NOT NULL DEFAULT '', callingstationid varchar(50) NOT NULL DEFAULT '',
  acctterminatecause varchar(32) NOT NULL DEFAULT '', servicetype varchar(32) DEFAULT NULL,
  framedprotocol varchar(32) DEFAULT NULL, framedipaddress varchar(15) NOT NULL DEFAULT '',
  framedipv6address varchar(45) NOT NULL DEFAULT '', framedipv6prefix varchar(45) NOT NULL DEFAULT '',
  framedinterfaceid varchar(44) NOT NULL DEFAULT '', delegatedipv6prefix varchar(45) NOT NULL DEFAULT '',
  class varchar(64) DEFAULT NULL
);
CREATE UNIQUE INDEX acctuniqueid ON radacct(acctuniqueid);
CREATE TABLE radcheck (id INTEGER PRIMARY KEY AUTOINCREMENT, username varchar(64) NOT NULL DEFAULT '',
  attribute varchar(64) NOT NULL DEFAULT '', op char(2) NOT NULL DEFAULT '==', value varchar(253) NOT NULL DEFAULT '');
CREATE TABLE radgroupcheck (id INTEGER PRIMARY KEY AUTOINCREMENT, groupname varchar(64) NOT NULL DEFAULT '',
  attribute varchar(64) NOT NULL DEFAULT '', op char(2) NOT NULL DEFAULT '==', value varchar(253) NOT NULL DEFAULT '');
CREATE TABLE radgroupreply (id INTEGER PRIMARY KEY AUTOINCREMENT, groupname varchar(64) NOT NULL DEFAULT '',
  attribute varchar(64) NOT NULL DEFAULT '', op char(2) NOT NULL DEFAULT '=', value varchar(253) NOT NULL DEFAULT '');
CREATE TABLE radreply (id INTEGER PRIMARY KEY AUTOINCREMENT, username varchar(64) NOT NULL DEFAULT '',
  attribute varchar(64) NOT NULL DEFAULT '', op char(2) NOT NULL DEFAULT '=', value varchar(253) NOT NULL DEFAULT '');
CREATE TABLE radusergroup (id INTEGER PRIMARY KEY AUTOINCREMENT, username varchar(64) NOT NULL DEFAULT '',
  groupname varchar(64) NOT NULL DEFAULT '', priority int(11) NOT NULL DEFAULT '1');
CREATE TABLE nas (id INTEGER PRIMARY KEY AUTOINCREMENT, nasname varchar(128) NOT NULL, shortname varchar(32),
  type varchar(30) DEFAULT 'other', ports int(5), secret varchar(60) DEFAULT 'secret' NOT NULL,
  server varchar(64), community varchar(50), description varchar(200) DEFAULT 'RADIUS Client');
CREATE TABLE radippool (id int(11) PRIMARY KEY, pool_name varchar(30) NOT NULL,
  framedipaddress varchar(15) NOT NULL default '', nasipaddress varchar(15) NOT NULL default '',
  calledstationid VARCHAR(30) NOT NULL default '', callingstationid VARCHAR(30) NOT NULL default '',
  expiry_time DATETIME NOT NULL default (DATETIME('now')), username varchar(64) NOT NULL default '',
  pool_key varchar(30) NOT NULL default '');
