-- FreeRADIUS 3.x tables (rlm_sql + rlm_sqlippool), MySQL/MariaDB flavour; see README.md.
CREATE TABLE IF NOT EXISTS radacct (
  radacctid bigint(21) NOT NULL auto_increment, acctsessionid varchar(64) NOT NULL default '',
  acctuniqueid varchar(32) NOT NULL default '', username varchar(64) NOT NULL default '',
  realm varchar(64) default '', nasipaddress varchar(15) NOT NULL default '', nasportid varchar(32) default NULL,
  nasporttype varchar(32) default NULL, acctstarttime datetime NULL default NULL,
  acctupdatetime datetime NULL default NULL, acctstoptime datetime NULL default NULL,
  acctinterval int(12) default NULL, acctsessiontime int(12) unsigned default NULL,
  acctauthentic varchar(32) default NULL, connectinfo_start varchar(128) default NULL,
  connectinfo_stop varchar(128) default NULL, acctinputoctets bigint(20) default NULL,
  acctoutputoctets bigint(20) default NULL, calledstationid varchar(50) NOT NULL default '',
  callingstationid varchar(50) NOT NULL default '', acctterminatecause varchar(32) NOT NULL default '',
  servicetype varchar(32) default NULL, framedprotocol varchar(32) default NULL,
  framedipaddress varchar(15) NOT NULL default '', framedipv6address varchar(45) NOT NULL default '',
  framedipv6prefix varchar(45) NOT NULL default '', framedinterfaceid varchar(44) NOT NULL default '',
  delegatedipv6prefix varchar(45) NOT NULL default '', class varchar(64) default NULL,
  PRIMARY KEY (radacctid), UNIQUE KEY acctuniqueid (acctuniqueid)
) ENGINE = INNODB;
CREATE TABLE IF NOT EXISTS radcheck (id int(11) unsigned NOT NULL auto_increment,
  username varchar(64) NOT NULL default '', attribute varchar(64) NOT NULL default '',
  op char(2) NOT NULL DEFAULT '==', value varchar(253) NOT NULL default '', PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS radgroupcheck (id int(11) unsigned NOT NULL auto_increment,
  groupname varchar(64) NOT NULL default '', attribute varchar(64) NOT NULL default '',
  op char(2) NOT NULL DEFAULT '==', value varchar(253) NOT NULL default '', PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS radgroupreply (id int(11) unsigned NOT NULL auto_increment,
  groupname varchar(64) NOT NULL default '', attribute varchar(64) NOT NULL default '',
  op char(2) NOT NULL DEFAULT '=', value varchar(253) NOT NULL default '', PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS radreply (id int(11) unsigned NOT NULL auto_increment,
  username varchar(64) NOT NULL default '', attribute varchar(64) NOT NULL default '',
  op char(2) NOT NULL DEFAULT '=', value varchar(253) NOT NULL default '', PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS radusergroup (id int(11) unsigned NOT NULL auto_increment,
  username varchar(64) NOT NULL default '', groupname varchar(64) NOT NULL default '',
  priority int(11) NOT NULL default '1', PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS nas (id int(10) NOT NULL auto_increment, nasname varchar(128) NOT NULL,
  shortname varchar(32), type varchar(30) DEFAULT 'other', ports int(5), secret varchar(60) DEFAULT 'secret' NOT NULL,
  server varchar(64), community varchar(50), description varchar(200) DEFAULT 'RADIUS Client', PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS radippool (id int(11) unsigned NOT NULL auto_increment, pool_name varchar(30) NOT NULL,
  framedipaddress varchar(15) NOT NULL default '', nasipaddress varchar(15) NOT NULL default '',
  calledstationid VARCHAR(30) NOT NULL default '', callingstationid VARCHAR(30) NOT NULL default '',
  expiry_time DATETIME NOT NULL default NOW(), username varchar(64) NOT NULL default '',
  pool_key varchar(30) NOT NULL default '', PRIMARY KEY (id)) ENGINE=InnoDB;
